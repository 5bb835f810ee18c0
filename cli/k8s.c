/* k8s: `otel-preload k8s inject`: rewrites a Kubernetes workload (Pod,
 * Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob; YAML or
 * JSON on stdin) to run under the shim, on stdout, the way the plain
 * manifests in deploy/k8s/ do it:
 * - an emptyDir volume `otel-preload`, filled by an init container from the
 *   init image (both flavours and a static copier, restricted security
 *   context) and mounted read-only at /otel-preload in every container;
 * - per container: LD_PRELOAD with the flavour for its C library (glibc by
 *   default, --libc musl, or --container NAME=musl) prepended to any value
 *   it has; OTEL_EXPORTER_OTLP_ENDPOINT (the sidecar on localhost:4318)
 *   and OTEL_SERVICE_NAME unless set; the pod's name, namespace, node and
 *   host IP from the downward API into OTEL_RESOURCE_ATTRIBUTES (after any
 *   value of the container's own), with k8s.container.name;
 * - a collector sidecar receiving OTLP on localhost:4318 (--no-sidecar:
 *   none), its configuration from the ConfigMap in deploy/k8s/.
 * Refused, with nothing written: LD_PRELOAD from valueFrom (its value is
 * not known here), a document of another kind, an already injected one.
 * Comments in YAML input are not kept (libyaml drops them).
 * Depends on libyaml and cli.h. */
#include "cli/k8s.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cli/cli.h"

#define K8S_USAGE                                                                                  \
    "otel-preload k8s inject [--libc glibc|musl] [--container NAME=glibc|musl]...\n"               \
    "           [--image IMAGE] [--collector-image IMAGE] [--endpoint URL] [--service NAME]\n"     \
    "           [--no-sidecar] < workload.yaml > injected.yaml"

#define VOLUME "otel-preload"
#define MOUNT "/otel-preload"

struct inject {
    const char *libc, *image, *collector_image, *endpoint, *service;
    const char *per_container[32][2];
    char names[32][256];
    int n_per_container;
    bool sidecar;
    yaml_document_t *doc;
    const char *error;
};

/* ---- the document ---- */

static yaml_node_t *node(struct inject *in, int i) {
    return i ? yaml_document_get_node(in->doc, i) : NULL;
}

static int scalar(struct inject *in, const char *s) {
    return yaml_document_add_scalar(in->doc, NULL, (yaml_char_t *)s, -1, YAML_ANY_SCALAR_STYLE);
}

/* A plain scalar: JSON output prints it unquoted (booleans, numbers). */
static int plain(struct inject *in, const char *s) {
    return yaml_document_add_scalar(in->doc, NULL, (yaml_char_t *)s, -1, YAML_PLAIN_SCALAR_STYLE);
}

static int mapping(struct inject *in) {
    return yaml_document_add_mapping(in->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
}

static int sequence(struct inject *in) {
    return yaml_document_add_sequence(in->doc, NULL, YAML_BLOCK_SEQUENCE_STYLE);
}

static void put(struct inject *in, int map, const char *key, int value) {
    yaml_document_append_mapping_pair(in->doc, map, scalar(in, key), value);
}

static void append(struct inject *in, int seq, int item) {
    yaml_document_append_sequence_item(in->doc, seq, item);
}

/* item first in seq (Kubernetes expands $(VAR) only for variables listed
 * before the one that refers to them). */
static void prepend(struct inject *in, int seq, int item) {
    append(in, seq, item);
    yaml_node_t *s = node(in, seq);
    yaml_node_item_t *start = s->data.sequence.items.start;
    size_t n = (size_t)(s->data.sequence.items.top - start);
    memmove(start + 1, start, (n - 1) * sizeof *start);
    start[0] = item;
}

static bool is_scalar(yaml_node_t *n, const char *s) {
    return n && n->type == YAML_SCALAR_NODE && strcmp((char *)n->data.scalar.value, s) == 0;
}

/* The value index of key in a mapping node, 0 when absent. */
static int get(struct inject *in, int map, const char *key) {
    yaml_node_t *m = node(in, map);
    if (!m || m->type != YAML_MAPPING_NODE) return 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
        if (is_scalar(node(in, p->key), key)) return p->value;
    return 0;
}

static yaml_node_pair_t *get_pair(struct inject *in, int map, const char *key) {
    yaml_node_t *m = node(in, map);
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
        if (is_scalar(node(in, p->key), key)) return p;
    return NULL;
}

/* The sequence under key, made when absent. */
static int get_sequence(struct inject *in, int map, const char *key) {
    int s = get(in, map, key);
    if (s && node(in, s)->type == YAML_SEQUENCE_NODE) return s;
    if (s) return 0; /* something else there: refused by the caller */
    s = sequence(in);
    put(in, map, key, s);
    return s;
}

static const char *text(struct inject *in, int i) {
    yaml_node_t *n = node(in, i);
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* ---- what is added ---- */

static int env_value(struct inject *in, const char *name, const char *value) {
    int m = mapping(in);
    put(in, m, "name", scalar(in, name));
    put(in, m, "value", scalar(in, value));
    return m;
}

static int env_field(struct inject *in, const char *name, const char *path) {
    int m = mapping(in), from = mapping(in), ref = mapping(in);
    put(in, ref, "fieldPath", scalar(in, path));
    put(in, from, "fieldRef", ref);
    put(in, m, "name", scalar(in, name));
    put(in, m, "valueFrom", from);
    return m;
}

/* runAsNonRoot, no privilege escalation, every capability dropped, a
 * read-only root, the runtime's seccomp profile: the "restricted" Pod
 * Security Standard. */
static int restricted(struct inject *in) {
    int sc = mapping(in), caps = mapping(in), drop = sequence(in), seccomp = mapping(in);
    append(in, drop, scalar(in, "ALL"));
    put(in, caps, "drop", drop);
    put(in, seccomp, "type", scalar(in, "RuntimeDefault"));
    put(in, sc, "runAsNonRoot", plain(in, "true"));
    put(in, sc, "runAsUser", plain(in, "65532"));
    put(in, sc, "allowPrivilegeEscalation", plain(in, "false"));
    put(in, sc, "readOnlyRootFilesystem", plain(in, "true"));
    put(in, sc, "capabilities", caps);
    put(in, sc, "seccompProfile", seccomp);
    return sc;
}

static const char *libc_of(struct inject *in, const char *container) {
    for (int i = 0; i < in->n_per_container; i++)
        if (container && strcmp(in->per_container[i][0], container) == 0)
            return in->per_container[i][1];
    return in->libc;
}

static int inject_container(struct inject *in, int c, const char *workload) {
    const char *name = text(in, get(in, c, "name"));
    const char *lib = strcmp(libc_of(in, name), "musl") == 0 ? MOUNT "/libotelpreload-musl.so"
                                                             : MOUNT "/libotelpreload.so";
    int env = get_sequence(in, c, "env");
    if (!env) {
        in->error = "a container's env is not a list";
        return -1;
    }
    bool has_endpoint = false, has_service = false;
    int preload_item = 0, attrs_item = 0;
    yaml_node_t *e = node(in, env);
    for (yaml_node_item_t *it = e->data.sequence.items.start; it < e->data.sequence.items.top;
         it++) {
        const char *n = text(in, get(in, *it, "name"));
        if (!n) continue;
        if (!strcmp(n, "LD_PRELOAD")) preload_item = *it;
        if (!strcmp(n, "OTEL_RESOURCE_ATTRIBUTES")) attrs_item = *it;
        has_endpoint |= !strcmp(n, "OTEL_EXPORTER_OTLP_ENDPOINT");
        has_service |= !strcmp(n, "OTEL_SERVICE_NAME");
    }
    if (preload_item && get(in, preload_item, "valueFrom")) {
        in->error = "a container takes LD_PRELOAD from valueFrom: its value is not known here, "
                    "so the shim cannot be prepended safely";
        return -1;
    }
    if (attrs_item && get(in, attrs_item, "valueFrom")) {
        in->error = "a container takes OTEL_RESOURCE_ATTRIBUTES from valueFrom";
        return -1;
    }
    char buf[4096];
    /* The downward API's values first, so the resource attributes (the
     * container's own entry too) can refer to them. */
    prepend(in, env, env_field(in, "OTEL_PRELOAD_K8S_HOST_IP", "status.hostIP"));
    prepend(in, env, env_field(in, "OTEL_PRELOAD_K8S_NODE_NAME", "spec.nodeName"));
    prepend(in, env, env_field(in, "OTEL_PRELOAD_K8S_NAMESPACE", "metadata.namespace"));
    prepend(in, env, env_field(in, "OTEL_PRELOAD_K8S_POD_NAME", "metadata.name"));
    const char *old = preload_item ? text(in, get(in, preload_item, "value")) : NULL;
    snprintf(buf, sizeof buf, "%s%s%s", lib, old && *old ? " " : "", old ? old : "");
    if (preload_item) {
        yaml_node_pair_t *p = get_pair(in, preload_item, "value");
        int v = scalar(in, buf);
        p = get_pair(in, preload_item, "value"); /* nodes may have moved */
        if (p)
            p->value = v;
        else
            put(in, preload_item, "value", v);
    } else {
        append(in, env, env_value(in, "LD_PRELOAD", buf));
    }
    if (!has_endpoint) append(in, env, env_value(in, "OTEL_EXPORTER_OTLP_ENDPOINT", in->endpoint));
    if (!has_service)
        append(in, env, env_value(in, "OTEL_SERVICE_NAME", in->service ? in->service : workload));
    const char *own = attrs_item ? text(in, get(in, attrs_item, "value")) : NULL;
    snprintf(buf, sizeof buf,
             "%s%sk8s.pod.name=$(OTEL_PRELOAD_K8S_POD_NAME),"
             "k8s.namespace.name=$(OTEL_PRELOAD_K8S_NAMESPACE),"
             "k8s.node.name=$(OTEL_PRELOAD_K8S_NODE_NAME),k8s.container.name=%s,"
             "host.ip=$(OTEL_PRELOAD_K8S_HOST_IP)",
             own ? own : "", own && *own ? "," : "", name ? name : "");
    if (attrs_item) {
        int v = scalar(in, buf);
        yaml_node_pair_t *p = get_pair(in, attrs_item, "value");
        if (p)
            p->value = v;
        else
            put(in, attrs_item, "value", v);
    } else {
        append(in, env, env_value(in, "OTEL_RESOURCE_ATTRIBUTES", buf));
    }
    int mounts = get_sequence(in, c, "volumeMounts");
    if (!mounts) {
        in->error = "a container's volumeMounts is not a list";
        return -1;
    }
    int m = mapping(in);
    put(in, m, "name", scalar(in, VOLUME));
    put(in, m, "mountPath", scalar(in, MOUNT));
    put(in, m, "readOnly", plain(in, "true"));
    append(in, mounts, m);
    return 0;
}

static int inject_pod(struct inject *in, int spec, const char *workload) {
    int volumes = get_sequence(in, spec, "volumes");
    int containers = get(in, spec, "containers");
    if (!volumes || !containers || node(in, containers)->type != YAML_SEQUENCE_NODE) {
        in->error = "the pod spec has no list of containers (or volumes is not a list)";
        return -1;
    }
    yaml_node_t *v = node(in, volumes);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
        if (is_scalar(node(in, get(in, *it, "name")), VOLUME)) {
            in->error = "already injected (it has a volume named " VOLUME ")";
            return -1;
        }
    /* The containers as they were: the sidecar added below is not one of
     * the program's. */
    int n = (int)(node(in, containers)->data.sequence.items.top -
                  node(in, containers)->data.sequence.items.start);
    for (int i = 0; i < n; i++) {
        int c = node(in, containers)->data.sequence.items.start[i];
        if (inject_container(in, c, workload) < 0) return -1;
    }
    int vol = mapping(in), empty = mapping(in);
    put(in, empty, "sizeLimit", scalar(in, "64Mi"));
    put(in, vol, "name", scalar(in, VOLUME));
    put(in, vol, "emptyDir", empty);
    append(in, volumes, vol);

    int inits = get_sequence(in, spec, "initContainers");
    if (!inits) {
        in->error = "initContainers is not a list";
        return -1;
    }
    int init = mapping(in), cmd = sequence(in), mounts = sequence(in), mount = mapping(in);
    append(in, cmd, scalar(in, "/otel-preload-copy"));
    append(in, cmd, scalar(in, MOUNT));
    put(in, mount, "name", scalar(in, VOLUME));
    put(in, mount, "mountPath", scalar(in, MOUNT));
    append(in, mounts, mount);
    put(in, init, "name", scalar(in, "otel-preload-init"));
    put(in, init, "image", scalar(in, in->image));
    put(in, init, "command", cmd);
    put(in, init, "volumeMounts", mounts);
    put(in, init, "securityContext", restricted(in));
    append(in, inits, init);

    if (in->sidecar) {
        int col = mapping(in), args = sequence(in), cmounts = sequence(in), cm = mapping(in);
        append(in, args, scalar(in, "--config=/etc/otelcol/collector.yaml"));
        put(in, cm, "name", scalar(in, "otel-collector-config"));
        put(in, cm, "mountPath", scalar(in, "/etc/otelcol"));
        put(in, cm, "readOnly", plain(in, "true"));
        append(in, cmounts, cm);
        put(in, col, "name", scalar(in, "otel-collector"));
        put(in, col, "image", scalar(in, in->collector_image));
        put(in, col, "args", args);
        put(in, col, "volumeMounts", cmounts);
        put(in, col, "securityContext", restricted(in));
        append(in, containers, col);
        int cv = mapping(in), cfg = mapping(in);
        put(in, cfg, "name", scalar(in, "otel-preload-collector"));
        put(in, cv, "name", scalar(in, "otel-collector-config"));
        put(in, cv, "configMap", cfg);
        append(in, volumes, cv);
    }
    return 0;
}

static int inject_document(struct inject *in) {
    int root = yaml_document_get_root_node(in->doc) ? 1 : 0;
    const char *kind = text(in, get(in, root, "kind"));
    const char *name = text(in, get(in, get(in, root, "metadata"), "name"));
    if (!kind) {
        in->error = "no kind: not a Kubernetes object";
        return -1;
    }
    int spec = get(in, root, "spec");
    if (!strcmp(kind, "Pod")) return inject_pod(in, spec, name ? name : "pod");
    if (!strcmp(kind, "CronJob")) spec = get(in, get(in, spec, "jobTemplate"), "spec");
    if (!strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet") || !strcmp(kind, "DaemonSet") ||
        !strcmp(kind, "ReplicaSet") || !strcmp(kind, "Job") || !strcmp(kind, "CronJob")) {
        int pod = get(in, get(in, spec, "template"), "spec");
        if (!pod) {
            in->error = "no spec.template.spec";
            return -1;
        }
        return inject_pod(in, pod, name ? name : "workload");
    }
    in->error = "not a workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, "
                "CronJob)";
    return -1;
}

/* ---- JSON out ---- */

static bool json_bare(yaml_node_t *n) {
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    if (!strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "null")) return true;
    char *end;
    if (!*s || isspace((unsigned char)*s)) return false;
    (void)strtod(s, &end);
    return *end == '\0' && (isdigit((unsigned char)*s) || *s == '-');
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_node(FILE *f, yaml_document_t *doc, int i, int depth) {
    yaml_node_t *n = yaml_document_get_node(doc, i);
    if (!n) {
        fputs("null", f);
        return;
    }
    if (n->type == YAML_SCALAR_NODE) {
        if (json_bare(n))
            fputs((const char *)n->data.scalar.value, f);
        else
            json_string(f, (const char *)n->data.scalar.value);
        return;
    }
    bool map = n->type == YAML_MAPPING_NODE;
    size_t count = map ? (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start)
                       : (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!count) {
        fputs(map ? "{}" : "[]", f);
        return;
    }
    fputs(map ? "{\n" : "[\n", f);
    for (size_t k = 0; k < count; k++) {
        fprintf(f, "%*s", (depth + 1) * 2, "");
        n = yaml_document_get_node(doc, i); /* stable: nothing is added while printing */
        if (map) {
            yaml_node_pair_t p = n->data.mapping.pairs.start[k];
            yaml_node_t *key = yaml_document_get_node(doc, p.key);
            json_string(f,
                        key && key->type == YAML_SCALAR_NODE ? (char *)key->data.scalar.value : "");
            fputs(": ", f);
            json_node(f, doc, p.value, depth + 1);
        } else {
            json_node(f, doc, n->data.sequence.items.start[k], depth + 1);
        }
        fputs(k + 1 < count ? ",\n" : "\n", f);
    }
    fprintf(f, "%*s%s", depth * 2, "", map ? "}" : "]");
}

/* ---- the command ---- */

static int yaml_out(void *data, unsigned char *buf, size_t n) {
    return fwrite(buf, 1, n, data) == n;
}

static int write_out(yaml_document_t *doc, bool json) {
    if (json) {
        json_node(stdout, doc, 1, 0);
        fputc('\n', stdout);
        yaml_document_delete(doc);
        return 0;
    }
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em)) return -1;
    yaml_emitter_set_output(&em, yaml_out, stdout);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 120);
    int ok = yaml_emitter_open(&em) && yaml_emitter_dump(&em, doc) && yaml_emitter_close(&em);
    yaml_emitter_delete(&em);
    return ok ? 0 : -1;
}

static int inject_main(int argc, char **argv) {
    struct inject in = {.libc = "glibc",
                        .image = "ghcr.io/otel-preload/init:" OTELP_VERSION,
                        .collector_image = "otel/opentelemetry-collector:0.114.0",
                        .endpoint = "http://localhost:4318",
                        .sidecar = true};
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool missing = false;
        if (cli_is_help(argv[i])) {
            printf("usage: %s\n\nAdds the shim to a workload (YAML or JSON, stdin to stdout): see "
                   "docs/DEPLOY.md.\n",
                   K8S_USAGE);
            return 0;
        }
        if (!strcmp(argv[i], "--no-sidecar")) {
            in.sidecar = false;
        } else if ((v = cli_opt(argc, argv, &i, "--libc", &missing)) != NULL) {
            if (strcmp(v, "glibc") && strcmp(v, "musl"))
                return cli_usage_error(K8S_USAGE, "--libc is glibc or musl, not '%s'", v);
            in.libc = v;
        } else if ((v = cli_opt(argc, argv, &i, "--container", &missing)) != NULL) {
            const char *eq = strchr(v, '=');
            if (!eq || (strcmp(eq + 1, "glibc") && strcmp(eq + 1, "musl")) ||
                in.n_per_container == 32)
                return cli_usage_error(K8S_USAGE, "--container takes NAME=glibc or NAME=musl");
            char *name = in.names[in.n_per_container];
            snprintf(name, sizeof in.names[0], "%.*s", (int)(eq - v), v);
            in.per_container[in.n_per_container][0] = name;
            in.per_container[in.n_per_container++][1] = eq + 1;
        } else if ((v = cli_opt(argc, argv, &i, "--image", &missing)) != NULL) {
            in.image = v;
        } else if ((v = cli_opt(argc, argv, &i, "--collector-image", &missing)) != NULL) {
            in.collector_image = v;
        } else if ((v = cli_opt(argc, argv, &i, "--endpoint", &missing)) != NULL) {
            in.endpoint = v;
        } else if ((v = cli_opt(argc, argv, &i, "--service", &missing)) != NULL) {
            in.service = v;
        } else {
            return cli_usage_error(K8S_USAGE,
                                   missing ? "%s needs a value" : "unknown argument '%s'", argv[i]);
        }
    }
    /* The whole input first: JSON in gives JSON out. */
    size_t cap = 1 << 16, len = 0;
    char *input = malloc(cap);
    for (size_t r; input && (r = fread(input + len, 1, cap - len, stdin)) > 0;) {
        len += r;
        if (len == cap && cap < (64u << 20)) input = realloc(input, cap *= 2);
    }
    if (!input) return 1;
    size_t first = 0;
    while (first < len && isspace((unsigned char)input[first]))
        first++;
    bool json = first < len && input[first] == '{';
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)input, len);
    if (!yaml_parser_load(&parser, &doc)) {
        cli_error("k8s inject: cannot parse the input: %s at line %zu", parser.problem,
                  parser.problem_mark.line + 1);
        yaml_parser_delete(&parser);
        free(input);
        return 1;
    }
    yaml_parser_delete(&parser);
    free(input);
    in.doc = &doc;
    if (!yaml_document_get_root_node(&doc)) {
        cli_error("k8s inject: empty input");
        yaml_document_delete(&doc);
        return 1;
    }
    if (inject_document(&in) < 0) {
        cli_error("k8s inject: %s; nothing written", in.error);
        yaml_document_delete(&doc);
        return 1;
    }
    return write_out(&doc, json) == 0 ? 0 : 1;
}

int cmd_k8s(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        printf("usage: %s\n", K8S_USAGE);
        return argc < 2 ? CLI_USAGE : 0;
    }
    if (strcmp(argv[1], "inject") == 0) return inject_main(argc - 1, argv + 1);
    return cli_usage_error(K8S_USAGE, "unknown k8s command '%s'", argv[1]);
}
