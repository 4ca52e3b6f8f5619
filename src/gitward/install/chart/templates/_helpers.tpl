{{- define "gitward.labels" -}}
app.kubernetes.io/name: gitward
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: gitward
{{- end -}}

{{- define "gitward.selector" -}}
app.kubernetes.io/name: gitward
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gitward.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "gitward.namespaces" -}}
{{- $all := list .Release.Namespace -}}
{{- range .Values.rbac.namespaces -}}
{{- if not (has . $all) -}}{{- $all = append $all . -}}{{- end -}}
{{- end -}}
{{- toJson $all -}}
{{- end -}}

{{/* The agent's configuration: the chart's settings, then the user's (theirs win). */}}
{{- define "gitward.config" -}}
{{- $watched := list .Release.Namespace -}}
{{- if eq .Values.rbac.scope "namespaced" -}}{{- $watched = include "gitward.namespaces" . | fromJsonArray -}}{{- end -}}
{{- $base := dict
  "targets" (dict "in-cluster" (dict "inCluster" true))
  "clusterObjects" (dict "target" "in-cluster" "namespace" .Release.Namespace "namespaces" $watched)
  "store" "sqlite:////var/lib/gitward/state.db"
  "cacheDir" "/var/cache/gitward"
  "listen" (printf "0.0.0.0:%v" .Values.service.port)
-}}
{{- if gt (int .Values.replicas) 1 -}}
{{- $_ := set $base "replicas" (dict "coordinator" "kubernetes") -}}
{{- end -}}
{{- $config := mergeOverwrite $base (deepCopy .Values.config) -}}
{{- if and (gt (int .Values.replicas) 1) (not (hasPrefix "postgres" (toString $config.store))) -}}
{{- fail (printf "replicas: %v needs config.store: a postgresql:// URL the replicas share (SQLite runs one replica); see docs/operations.md" .Values.replicas) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
