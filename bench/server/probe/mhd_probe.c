/*
 * mhd_probe.c — the 15-minute measurement that decided lmserve's HTTP layer: the smallest
 * libmicrohttpd server (epoll, one internal polling thread per CPU, keep-alive) answering every
 * request with a fixed 60-byte JSON body, to be loaded with `wrk -t1 -c4`. Not part of the
 * build (needs libmicrohttpd-dev); the numbers are in docs/lmserve.md. To repeat:
 *   cc -O2 bench/server/probe/mhd_probe.c -lmicrohttpd -o /tmp/mhd_probe && /tmp/mhd_probe 8099 2
 *   wrk -t1 -c4 -d5s --latency -s POST_SCRIPT.lua http://127.0.0.1:8099/
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] =
    "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"predict\",\"data\":[0.5]}]}";

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **ptr) {
  (void)cls; (void)url; (void)method; (void)version; (void)upload;
  if (*ptr == NULL) { *ptr = (void *)1; return MHD_YES; }
  if (*upload_size) { *upload_size = 0; return MHD_YES; } /* consume the body */
  struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
                                                           MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  return ret;
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8099;
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL, handler, NULL,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
      MHD_OPTION_END);
  if (!d) { fprintf(stderr, "start failed\n"); return 1; }
  pause();
  MHD_stop_daemon(d);
  return 0;
}
