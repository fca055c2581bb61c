/*  ml4t_curve: CURVE roles for ZeroMQ sockets; one shared zauth per process. */
#include "ml4t/curve.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define S_Z85_KEY_LEN 40

struct ml4t_curve {
    ml4t_curve_role_t role;
    zcert_t *cert; /* this side's key pair; NULL when off */
    char server_key[S_Z85_KEY_LEN + 1];
};

/* The process's ZAP handler. zauth binds the fixed ZAP endpoint of czmq's
   shared context, so there can be only one; it lives while any server-role
   instance does. */
static pthread_mutex_t s_auth_lock = PTHREAD_MUTEX_INITIALIZER;
static zactor_t *s_auth;
static unsigned s_auth_users;
static char s_auth_dir[ML4T_TRANSPORT_PATH_MAX];

static ml4t_err_t s_auth_acquire(const char *dir, ml4t_error_t *err)
{
    ml4t_err_t rc = ML4T_OK;
    pthread_mutex_lock(&s_auth_lock);
    if (s_auth_users > 0 && strcmp(s_auth_dir, dir) != 0) {
        rc = ml4t_error_set(err, ML4T_ESTATE, "zmq.curve_clients_dir",
                            "zmq.curve_clients_dir=%s: this process already authenticates "
                            "against %s (one clients directory per process)",
                            dir, s_auth_dir);
        goto out_unlock;
    }
    if (s_auth_users == 0) {
        s_auth = zactor_new(zauth, NULL);
        if (!s_auth) {
            rc = ml4t_error_set(err, ML4T_ENOMEM, "zmq.curve_clients_dir",
                                "cannot start the ZeroMQ authenticator");
            goto out_unlock;
        }
        /* zauth answers every command with a signal; waiting makes the policy
           effective before the caller's sockets bind. */
        zstr_sendx(s_auth, "CURVE", dir, NULL);
        zsock_wait(s_auth);
        snprintf(s_auth_dir, sizeof s_auth_dir, "%s", dir);
    }
    s_auth_users++;
out_unlock:
    pthread_mutex_unlock(&s_auth_lock);
    return rc;
}

static void s_auth_release(void)
{
    pthread_mutex_lock(&s_auth_lock);
    if (s_auth_users > 0 && --s_auth_users == 0)
        zactor_destroy(&s_auth);
    pthread_mutex_unlock(&s_auth_lock);
}

static bool s_key_is_zero(const byte *key)
{
    for (int i = 0; i < 32; i++)
        if (key[i])
            return false;
    return true;
}

/* A key pair from a secret certificate file. */
static zcert_t *s_secret_cert(const char *path, const char *field, ml4t_error_t *err)
{
    if (!zsys_file_exists(path)) {
        char secret[ML4T_TRANSPORT_PATH_MAX + 8];
        snprintf(secret, sizeof secret, "%s_secret", path);
        if (!zsys_file_exists(secret)) {
            ml4t_error_set(err, ML4T_ENOTFOUND, field, "%s=%s: no such certificate file", field,
                           path);
            return NULL;
        }
    }
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        ml4t_error_set(err, ML4T_EFORMAT, field, "%s=%s: not a ZeroMQ certificate", field, path);
        return NULL;
    }
    if (s_key_is_zero(zcert_secret_key(cert))) {
        zcert_destroy(&cert);
        ml4t_error_set(err, ML4T_EINVAL, field,
                       "%s=%s: holds no secret key (give the NAME_secret file)", field, path);
        return NULL;
    }
    return cert;
}

static ml4t_err_t s_server_key(ml4t_curve_t *self, const char *text, ml4t_error_t *err)
{
    const char *field = "zmq.curve_server_key";
    if (strlen(text) == S_Z85_KEY_LEN && !zsys_file_exists(text)) {
        byte bin[32];
        if (!zmq_z85_decode(bin, text))
            return ml4t_error_set(err, ML4T_EFORMAT, field, "%s: not a Z85 public key", field);
        memcpy(self->server_key, text, sizeof self->server_key);
        return ML4T_OK;
    }
    if (!zsys_file_exists(text))
        return ml4t_error_set(err, ML4T_ENOTFOUND, field,
                              "%s=%s: neither a certificate file nor a Z85 key", field, text);
    zcert_t *cert = zcert_load(text);
    if (!cert)
        return ml4t_error_set(err, ML4T_EFORMAT, field, "%s=%s: not a ZeroMQ certificate", field,
                              text);
    snprintf(self->server_key, sizeof self->server_key, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return ML4T_OK;
}

static ml4t_err_t s_check_role(const ml4t_transport_config_t *cfg, ml4t_error_t *err)
{
    bool server = cfg->zmq.curve_server_cert[0] || cfg->zmq.curve_clients_dir[0];
    bool client = cfg->zmq.curve_client_cert[0] || cfg->zmq.curve_server_key[0];
    if (server && client)
        return ml4t_error_set(err, ML4T_EINVAL, "zmq.curve_client_cert",
                              "a transport is either a CURVE server (zmq.curve_server_cert) or "
                              "a client (zmq.curve_client_cert), not both");
    if (server && !cfg->zmq.curve_server_cert[0])
        return ml4t_error_set(err, ML4T_EMISSING, "zmq.curve_server_cert",
                              "zmq.curve_clients_dir is set: zmq.curve_server_cert is needed too");
    if (server && !cfg->zmq.curve_clients_dir[0])
        return ml4t_error_set(err, ML4T_EMISSING, "zmq.curve_clients_dir",
                              "zmq.curve_server_cert is set: name the directory of allowed "
                              "client certificates (or \"*\" for any client key)");
    if (client && !cfg->zmq.curve_client_cert[0])
        return ml4t_error_set(err, ML4T_EMISSING, "zmq.curve_client_cert",
                              "zmq.curve_server_key is set: zmq.curve_client_cert is needed too");
    if (client && !cfg->zmq.curve_server_key[0])
        return ml4t_error_set(err, ML4T_EMISSING, "zmq.curve_server_key",
                              "zmq.curve_client_cert is set: the server's public key is needed");
    return ML4T_OK;
}

static ml4t_err_t s_server_init(ml4t_curve_t *self, const ml4t_transport_config_t *cfg,
                                ml4t_error_t *err)
{
    const char *dir = cfg->zmq.curve_clients_dir;
    struct stat st;
    if (strcmp(dir, CURVE_ALLOW_ANY) != 0 && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        return ml4t_error_set(err, ML4T_ENOTFOUND, "zmq.curve_clients_dir",
                              "zmq.curve_clients_dir=%s: not a directory", dir);
    self->cert = s_secret_cert(cfg->zmq.curve_server_cert, "zmq.curve_server_cert", err);
    if (!self->cert)
        return err ? err->code : ML4T_EINVAL;
    ml4t_err_t rc = s_auth_acquire(dir, err);
    if (rc != ML4T_OK)
        return rc;
    self->role = ML4T_CURVE_SERVER;
    return ML4T_OK;
}

ml4t_curve_t *ml4t_curve_new(const ml4t_transport_config_t *cfg, ml4t_error_t *err)
{
    if (s_check_role(cfg, err) != ML4T_OK)
        return NULL;
    ml4t_curve_t *self = calloc(1, sizeof *self);
    if (!self) {
        ml4t_error_set(err, ML4T_ENOMEM, "zmq", "cannot allocate the CURVE settings");
        return NULL;
    }
    ml4t_err_t rc = ML4T_OK;
    if (cfg->zmq.curve_server_cert[0]) {
        rc = s_server_init(self, cfg, err);
    } else if (cfg->zmq.curve_client_cert[0]) {
        self->cert = s_secret_cert(cfg->zmq.curve_client_cert, "zmq.curve_client_cert", err);
        rc = self->cert ? s_server_key(self, cfg->zmq.curve_server_key, err) : ML4T_EINVAL;
        if (rc == ML4T_OK)
            self->role = ML4T_CURVE_CLIENT;
    }
    if (rc != ML4T_OK)
        ml4t_curve_destroy(&self);
    return self;
}

void ml4t_curve_destroy(ml4t_curve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ml4t_curve_t *self = *self_p;
    if (self->role == ML4T_CURVE_SERVER)
        s_auth_release();
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

ml4t_curve_role_t ml4t_curve_role(const ml4t_curve_t *self)
{
    return self ? self->role : ML4T_CURVE_OFF;
}

void ml4t_curve_apply(const ml4t_curve_t *self, void *zsock)
{
    if (!self || self->role == ML4T_CURVE_OFF)
        return;
    zcert_apply(self->cert, zsock);
    if (self->role == ML4T_CURVE_SERVER) {
        zsock_set_zap_domain(zsock, "ml4t");
        zsock_set_curve_server(zsock, 1);
    } else {
        zsock_set_curve_serverkey(zsock, self->server_key);
    }
}

ml4t_err_t ml4t_curve_cert_create(const char *dir, const char *name, ml4t_error_t *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ml4t_error_set(err, ML4T_ENOTFOUND, "dir", "%s: not a directory", dir);
    if (!name[0] || strchr(name, '/'))
        return ml4t_error_set(err, ML4T_EINVAL, "name",
                              "'%s': a certificate name is one path "
                              "component",
                              name);
    char path[ML4T_TRANSPORT_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path - 8)
        return ml4t_error_set(err, ML4T_ELIMIT, "name", "%s/%s: path too long", dir, name);
    zcert_t *cert = zcert_new();
    if (!cert)
        return ml4t_error_set(err, ML4T_ENOMEM, "name", "cannot create a key pair");
    zcert_set_meta(cert, "name", "%s", name);
    /* zcert_save_secret creates the secret file 0600 through zsys_file_mode_private */
    int rc = zcert_save(cert, path);
    zcert_destroy(&cert);
    if (rc != 0)
        return ml4t_error_set(err, ML4T_EIO, "dir", "%s: cannot write the certificate: %s", path,
                              strerror(errno));
    return ML4T_OK;
}
