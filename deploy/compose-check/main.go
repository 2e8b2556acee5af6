// compose-check loads a Compose file the way `docker compose` does, with the
// same library (compose-go), and says whether it loads. No Docker is needed:
// nothing is run, the file is only read, interpolated, validated against the
// Compose schema, normalized and checked for consistency (a service that
// depends on an undefined one, a volume nobody declared). The fast tier runs
// it on docker-compose.yml (test/config/compose-load.test.ts); it is built and
// cached by scripts/validators.sh.
//
//	compose-check [-f docker-compose.yml] [--env-file FILE] [--json]
//
// Success: a one-line summary on stdout, or with --json the normalized project
// as JSON on stdout (and the summary on stderr). Failure: the loader's error on
// stderr, exit status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

func main() {
	file := flag.String("f", "docker-compose.yml", "the Compose file")
	envFile := flag.String("env-file", "", "a file of variables for interpolation, instead of the .env next to the Compose file")
	asJSON := flag.Bool("json", false, "print the normalized project as JSON")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "compose-check: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}

	project, err := load(*file, *envFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %s: %v\n", *file, err)
		os.Exit(1)
	}

	summary := io.Writer(os.Stdout)
	if *asJSON {
		document, err := project.MarshalJSON()
		if err != nil {
			fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(string(document))
		// stdout holds one JSON document and nothing else.
		summary = os.Stderr
	}
	fmt.Fprintf(summary, "compose-check: %s loads: %s, %s, %s\n", *file,
		count(len(project.Services), "service"), count(len(project.Volumes), "volume"),
		count(len(project.Networks), "network"))
}

// load reads the file as `docker compose` would from its folder: the same
// project folder (the file's), variables from the process environment and the
// .env file (or --env-file), and every check on. The options are spelled out
// rather than left to their defaults, so that switching one off is visible.
func load(file, envFile string) (*types.Project, error) {
	var envFiles []string
	if envFile != "" {
		envFiles = []string{envFile}
	}
	options, err := cli.NewProjectOptions([]string{file},
		cli.WithOsEnv,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
		cli.WithLoadOptions(func(o *loader.Options) {
			o.SkipValidation = false
			// Every profile active: a service behind a profile is checked
			// too, not silently left out of the project.
			o.Profiles = []string{"*"}
		}),
	)
	if err != nil {
		return nil, err
	}
	return options.LoadProject(context.Background())
}

// count says "1 network", "14 services".
func count(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
