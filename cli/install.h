/* install: the host and service installers of the otel-preload command
 * (cli/install.c). Each takes the arguments after the command's name,
 * argv[0] being the subcommand, and returns the exit status.
 * Depends on libc and cli.h. */
#ifndef OTELP_CLI_INSTALL_H
#define OTELP_CLI_INSTALL_H

int cmd_install(int argc, char **argv);
int cmd_uninstall(int argc, char **argv);
/* The host's side of `otel-preload status`: the preload list, the config
 * file, services with a drop-in, the processes that have the shim mapped. */
void install_status_print(void);
/* `status`: the store's (cli/dash.c), then the host's. */
int cmd_status_all(int argc, char **argv);

#endif
