/* k8s: `otel-preload k8s inject` (cli/k8s.c): a Kubernetes workload
 * rewritten to run under the shim. argv[0] is "k8s"; returns the exit
 * status. Depends on libc. */
#ifndef OTELP_CLI_K8S_H
#define OTELP_CLI_K8S_H

int cmd_k8s(int argc, char **argv);

#endif
