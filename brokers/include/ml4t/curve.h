/*  ml4t_curve: ZeroMQ CURVE security (encryption and client authentication)
    for the sockets of one transport, through czmq's zcert and zauth.

    Roles, chosen by the zmq.curve_* fields of ml4t_transport_config_t:
      - off:    neither certificate given; sockets speak plain ZMTP (NULL).
      - server: zmq.curve_server_cert (this side's secret certificate) and
                zmq.curve_clients_dir (the allowed clients' public
                certificates, or "*" for any client key). Every socket it is
                applied to is a CURVE server, whether it binds or connects:
                a peer must present a key found in the directory.
      - client: zmq.curve_client_cert (this side's secret certificate) and
                zmq.curve_server_key (the server's public certificate file,
                or its 40-character Z85 public key).

    Certificates are czmq zcert files: `zcert_save(cert, "dir/NAME")` writes
    "dir/NAME" (public key only) and "dir/NAME_secret" (both keys). A secret
    certificate may be named either way: "NAME" is read as "NAME_secret" when
    that file exists. The clients directory holds public certificates; files
    added or removed there take effect for the next connection.

    Authentication runs in one zauth actor per process, shared by every
    server-role instance and started before any of their sockets binds (a
    CURVE server without a ZAP handler would accept any client key). All
    server-role instances of a process must therefore name the same clients
    directory. Instances may be created and destroyed from any thread.

    Secret keys are never written anywhere by this class (errors name the
    file, never its contents). */
#ifndef ML4T_CURVE_H_INCLUDED
#define ML4T_CURVE_H_INCLUDED

#include "ml4t/error.h"
#include "ml4t/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ML4T_CURVE_OFF = 0, ML4T_CURVE_SERVER = 1, ML4T_CURVE_CLIENT = 2 } ml4t_curve_role_t;

typedef struct ml4t_curve ml4t_curve_t;

/* Read the certificates named in cfg->zmq and, for the server role, make sure
   the process's zauth actor runs with cfg->zmq.curve_clients_dir. Caller owns
   the result (an "off" instance when no CURVE field is set). NULL on failure,
   err naming the field: a missing or public-only certificate, a missing
   directory, a server key that is neither a file nor Z85, both roles at
   once, or a second clients directory in the same process. */
ml4t_curve_t *ml4t_curve_new(const ml4t_transport_config_t *cfg, ml4t_error_t *err);

/* Release the certificates; the last server-role instance stops zauth. Sockets
   it was applied to must be closed first. Sets *self_p to NULL; nothing on NULL. */
void ml4t_curve_destroy(ml4t_curve_t **self_p);

ml4t_curve_role_t ml4t_curve_role(const ml4t_curve_t *self);

/* Configure a czmq socket (zsock_t *, passed as void * so this header needs no
   czmq.h) for the role before it binds or connects. Nothing for "off". */
void ml4t_curve_apply(const ml4t_curve_t *self, void *zsock);

/* Write a new key pair as dir/name (public) and dir/name_secret (mode 0600).
   The directory must exist. */
ml4t_err_t ml4t_curve_cert_create(const char *dir, const char *name, ml4t_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
