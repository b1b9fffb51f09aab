/*
 * null_milter: the benchmark's baseline libmilter filter. It does nothing
 * but insert one header at end of message, so that what it costs is what
 * libmilter and the milter protocol cost.
 *
 * By default it mirrors mtls-milter's protocol shape exactly: the same
 * callbacks (connect, helo, envfrom, data, header, eom, abort, close), the
 * same negotiated skips (no RCPT, EOH, body or unknown commands; headers
 * without replies) and the same macro lists, and it inserts its header at
 * index 0. So mtls-milter / null filter is the price of mtls-milter's own
 * work. "-m minimal" registers only eom and asks the MTA to skip every
 * other step: libmilter's floor.
 *
 * "-n" sets TCP_NODELAY on the listening socket after smfi_opensocket()
 * (found through /proc/self/fd and SO_ACCEPTCONN): Linux copies it to every
 * accepted socket, so libmilter's replies are no longer held back by Nagle's
 * algorithm waiting for the MTA's delayed ACK.
 *
 * "-r" answers every header instead of negotiating SMFIP_NR_HDR (no reply
 * for headers), to see what that skip does to the MTA's writes.
 *
 * "-D" skips DATA (SMFIP_NODATA, no data callback), as mtls-milter did until
 * it was found that Postfix still sends the DATA macros then, unanswered, so
 * that its next write waits for the filter's delayed ACK on inet sockets.
 *
 * "-s MS" makes end of message block its worker thread for MS milliseconds
 * (a stand-in for a synchronous DNS lookup), to see how libmilter's worker
 * pool copes with callbacks that wait.
 *
 * Usage: null_milter -p unix:/path|inet:port@host [-m mirror|minimal] [-n] [-r] [-D] [-s MS]
 */
#include <dirent.h>
#include <errno.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int minimal_mode = 0;
static int header_replies = 0; /* -r: do not negotiate SMFIP_NR_HDR */
static int skip_data = 0;      /* -D: negotiate SMFIP_NODATA */
static int eom_sleep_ms = 0;   /* -s: block the worker this long at end of message */

/* The same lists mtls-milter requests (milter/connection.h). */
static const char helo_macros[] =
    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} {verify} {cn_subject} {cn_issuer} "
    "{cert_fp}";
static const char mail_macros[] =
    "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer} "
    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} {verify} {cn_subject} {cn_issuer} "
    "{cert_fp}";
static const char eom_macros[] = "i";

static sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
                             unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
    (void)f2;
    (void)f3;
    unsigned long skips = SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NOEOH | SMFIP_NR_HDR;
    if (minimal_mode) {
        skips |= SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NOHDRS | SMFIP_NODATA;
    }
    if (skip_data) {
        skips |= SMFIP_NODATA;
    }
    if ((f0 & SMFIF_ADDHDRS) == 0) {
        return SMFIS_REJECT;
    }
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
    if (minimal_mode) {
        *pf0 = SMFIF_ADDHDRS;
    }
    if (header_replies) {
        skips &= ~(unsigned long)SMFIP_NR_HDR;
    }
    *pf1 = f1 & skips;
    *pf2 = 0;
    *pf3 = 0;
    if (!minimal_mode && (f0 & SMFIF_SETSYMLIST) != 0) {
        smfi_setsymlist(ctx, SMFIM_HELO, (char*)helo_macros);
        smfi_setsymlist(ctx, SMFIM_ENVFROM, (char*)mail_macros);
        smfi_setsymlist(ctx, SMFIM_EOM, (char*)eom_macros);
    }
    return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX* ctx, char* host, _SOCK_ADDR* addr) {
    (void)ctx;
    (void)host;
    (void)addr;
    return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX* ctx, char* name) {
    (void)ctx;
    (void)name;
    return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    (void)ctx;
    (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat on_data(SMFICTX* ctx) {
    (void)ctx;
    return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
    (void)ctx;
    (void)name;
    (void)value;
    return header_replies ? SMFIS_CONTINUE : SMFIS_NOREPLY;
}

static sfsistat on_eom(SMFICTX* ctx) {
    if (eom_sleep_ms > 0) {
        usleep((useconds_t)eom_sleep_ms * 1000U);
    }
    smfi_insheader(ctx, 0, (char*)"X-Bench-Null", (char*)"yes");
    return SMFIS_CONTINUE;
}

static sfsistat on_abort(SMFICTX* ctx) {
    (void)ctx;
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX* ctx) {
    (void)ctx;
    return SMFIS_CONTINUE;
}

/* Sets TCP_NODELAY on every listening TCP socket of this process. */
static int set_nodelay_on_listener(void) {
    DIR* dir = opendir("/proc/self/fd");
    struct dirent* entry;
    int done = 0;
    if (dir == NULL) {
        return 0;
    }
    while ((entry = readdir(dir)) != NULL) {
        int fd = atoi(entry->d_name);
        int listening = 0;
        int domain = 0;
        int one = 1;
        socklen_t len = sizeof listening;
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') {
            continue;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
            continue;
        }
        len = sizeof domain;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || (domain != AF_INET && domain != AF_INET6)) {
            continue;
        }
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) {
            ++done;
        }
    }
    closedir(dir);
    return done;
}

int main(int argc, char** argv) {
    const char* conn = NULL;
    int nodelay = 0;
    int opt;
    struct smfiDesc desc;

    while ((opt = getopt(argc, argv, "p:m:ns:rD")) != -1) {
        switch (opt) {
            case 'p': conn = optarg; break;
            case 'm': minimal_mode = strcmp(optarg, "minimal") == 0; break;
            case 'n': nodelay = 1; break;
            case 's': eom_sleep_ms = atoi(optarg); break;
            case 'r': header_replies = 1; break;
            case 'D': skip_data = 1; break;
            default: fprintf(stderr, "usage: %s -p SOCKET [-m mirror|minimal] [-n] [-r] [-D] [-s MS]\n", argv[0]); return 2;
        }
    }
    if (conn == NULL) {
        fprintf(stderr, "usage: %s -p SOCKET [-m mirror|minimal] [-n] [-r] [-D] [-s MS]\n", argv[0]);
        return 2;
    }

    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = (char*)"null-milter";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST;
    desc.xxfi_negotiate = on_negotiate;
    desc.xxfi_eom = on_eom;
    if (!minimal_mode) {
        desc.xxfi_connect = on_connect;
        desc.xxfi_helo = on_helo;
        desc.xxfi_envfrom = on_envfrom;
        if (!skip_data) {
            desc.xxfi_data = on_data;
        }
        desc.xxfi_header = on_header;
        desc.xxfi_abort = on_abort;
        desc.xxfi_close = on_close;
    }
    if (smfi_setconn((char*)conn) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
        fprintf(stderr, "null_milter: cannot set up %s\n", conn);
        return 1;
    }
    if (smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "null_milter: cannot listen on %s\n", conn);
        return 1;
    }
    if (nodelay) {
        int n = set_nodelay_on_listener();
        fprintf(stderr, "null_milter: TCP_NODELAY set on %d listening socket(s)\n", n);
        if (n == 0 && strncmp(conn, "inet", 4) == 0) {
            return 1;
        }
    }
    fprintf(stderr, "null_milter: listening on %s (%s)\n", conn, minimal_mode ? "minimal" : "mirror");
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
