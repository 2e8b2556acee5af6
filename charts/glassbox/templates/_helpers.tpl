{{/*
Shared pieces of the glassbox chart.

Names: every object is named after its compose service (users, jaeger,
otel-collector...), not after the release. The config files the chart shares
with compose and the native stack (otel-collector.yaml, jaeger.yaml,
grafana's datasources) name their peers that way, so they work unchanged in
the cluster; the price is one glassbox release per namespace.
*/}}

{{/* The labels every object carries. Call with (dict "root" $ "component" "users"). */}}
{{- define "glassbox.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: glassbox
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/* What a selector matches: stable across upgrades (no version in it). */}}
{{- define "glassbox.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* The image of the glassbox services: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "glassbox.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* A third-party image from its values block ({repository, tag}). */}}
{{- define "glassbox.thirdPartyImage" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/*
The pod-level security context: not root, the runtime's default seccomp
profile, and volumes group-owned by the image's user. Call with the user id.
*/}}
{{- define "glassbox.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The container-level security context, the same for every container, as
compose gives its services (read_only, cap_drop ALL, no-new-privileges):
nothing written outside the volumes the pod mounts, no Linux capabilities.
Call with the user id.
*/}}
{{- define "glassbox.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}

{{/*
A generated secret value that survives upgrades: the value already in the
cluster's Secret if there is one, else a new random one. Nothing literal is
ever written into values or templates. (helm template has no cluster to ask,
so each render makes a new value.)
Call with (dict "root" $ "name" "postgres" "key" "password").
*/}}
{{- define "glassbox.generatedSecret" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}

{{/* The Secret and key holding the PostgreSQL password: the in-cluster one's, or the existing one named for the external database. */}}
{{- define "glassbox.databaseSecretName" -}}
{{- if .Values.postgresql.enabled -}}postgres{{- else -}}{{ required "externalDatabase.existingSecret is required when postgresql.enabled is false" .Values.externalDatabase.existingSecret }}{{- end -}}
{{- end -}}
{{- define "glassbox.databaseSecretKey" -}}
{{- if .Values.postgresql.enabled -}}password{{- else -}}{{ .Values.externalDatabase.existingSecretPasswordKey }}{{- end -}}
{{- end -}}

{{/* The Secret and key holding the AMQP URL (credentials included). */}}
{{- define "glassbox.amqpSecretName" -}}
{{- if .Values.rabbitmq.enabled -}}rabbitmq{{- else -}}{{ required "externalRabbitmq.existingSecret is required when rabbitmq.enabled is false" .Values.externalRabbitmq.existingSecret }}{{- end -}}
{{- end -}}
{{- define "glassbox.amqpSecretKey" -}}
{{- if .Values.rabbitmq.enabled -}}url{{- else -}}{{ .Values.externalRabbitmq.existingSecretUrlKey }}{{- end -}}
{{- end -}}

{{/* Where the traces go: the in-cluster Jaeger's OTLP gRPC receiver, or an existing one. */}}
{{- define "glassbox.jaegerOtlpEndpoint" -}}
{{- if .Values.jaeger.enabled -}}jaeger:4317{{- else -}}{{ required "jaeger.external.otlpEndpoint is required when jaeger.enabled is false" .Values.jaeger.external.otlpEndpoint }}{{- end -}}
{{- end -}}

{{/* Where the logs go: the in-cluster Loki's OTLP endpoint, or an existing one. */}}
{{- define "glassbox.lokiOtlpEndpoint" -}}
{{- if .Values.loki.enabled -}}http://loki:3100/otlp{{- else -}}{{ required "loki.external.otlpEndpoint is required when loki.enabled is false" .Values.loki.external.otlpEndpoint }}{{- end -}}
{{- end -}}

{{/* An emptyDir volume bounded in size (a read-only root filesystem leaves /tmp and friends to these). */}}
{{- define "glassbox.scratchVolume" -}}
- name: {{ .name }}
  emptyDir:
    sizeLimit: {{ .size | default "64Mi" }}
{{- end -}}

{{/* NetworkPolicy peers: the pods of this release with these components. Call with (dict "root" $ "components" (list ...)). */}}
{{- define "glassbox.peers" -}}
{{- range $component := .components }}
- podSelector:
    matchLabels:
      app.kubernetes.io/name: {{ $component }}
      app.kubernetes.io/instance: {{ $.root.Release.Name }}
{{- end }}
{{- end -}}
