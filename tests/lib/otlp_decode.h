/* otlp_decode: the tests' name for the receiver's strict OTLP decoder (server/otlp_decode.h). */
#include "server/otlp_decode.h"
