/*  ml4t-cert: make and inspect the CURVE certificates of a mesh.

        ml4t-cert new NAME DIR     write DIR/NAME (public) and DIR/NAME_secret (0600)
        ml4t-cert public FILE      print the Z85 public key of a certificate

    A node gets a server certificate (zmq.curve_server_cert = DIR/NAME_secret);
    each strategy or consumer gets its own, and its public file NAME is copied
    into the node's zmq.curve_clients_dir. */
#include "ml4t/curve.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

static int s_usage(FILE *out, int rc)
{
    fprintf(out, "usage: ml4t-cert new NAME DIR | ml4t-cert public FILE\n");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return s_usage(stdout, 0);
    if (argc == 4 && strcmp(argv[1], "new") == 0) {
        ml4t_error_t err;
        if (ml4t_curve_cert_create(argv[3], argv[2], &err) != ML4T_OK) {
            fprintf(stderr, "ml4t-cert: %s\n", err.msg);
            return 1;
        }
        printf("%s/%s\n%s/%s_secret\n", argv[3], argv[2], argv[3], argv[2]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "public") == 0) {
        zcert_t *cert = zsys_file_exists(argv[2]) ? zcert_load(argv[2]) : NULL;
        if (!cert) {
            fprintf(stderr, "ml4t-cert: %s: not a ZeroMQ certificate\n", argv[2]);
            return 1;
        }
        printf("%s\n", zcert_public_txt(cert));
        zcert_destroy(&cert);
        return 0;
    }
    return s_usage(stderr, 2);
}
