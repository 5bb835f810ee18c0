/* exporter: choosing exporters by name. See exporter.h. */
#include "exporters/exporter.h"

#include "core/diag.h"

bool exporter_in_signal;
_Atomic bool exporter_at_exec;

struct exporter *exporter_new(enum exporter_kind kind, enum signal_kind sig,
                              const struct config *cfg) {
    switch (kind) {
    case EXPORTER_OTLP:
        return otlp_exporter_new_all(sig, cfg);
    case EXPORTER_FILE:
        return otlp_file_exporter_new(sig, &cfg->otlp[sig]);
    case EXPORTER_CONSOLE:
        return console_exporter_new(sig);
    case EXPORTER_NONE:
        break;
    }
    return NULL;
}
