/* amqp_load: AMQP 0-9-1 load generator (rabbitmq-c) for comparing Ballast with RabbitMQ.
 *
 * Build: gcc -O2 -o amqp_load bench/amqp_load.c -lrabbitmq -lpthread
 *
 * Workload: one queue (declared durable, with optional x-arguments), C consumer
 * connections started first, then P producer connections; each connection has
 * its own thread and uses channel 1.
 *   Producers: confirm.select; publish to the default exchange with routing key = queue,
 *     keeping at most --inflight publishes unconfirmed (basic.ack / basic.nack with
 *     `multiple` are honoured; any nack fails the run).
 *   Consumers: basic.qos(prefetch) + basic.consume with manual acks.  Acks are sent with
 *     multiple=1 once every max(1, prefetch/4) deliveries, and for whatever is left
 *     when the consumer goes idle (100 ms) or finishes.
 * Each body starts with the send time (CLOCK_MONOTONIC ns, taken just before the
 * publish call), the producer id and a sequence number; consumers compute end-to-end
 * latency and check that every message arrived exactly once.
 *
 * Throughput = messages / (last delivery of a new message - first publish).
 * Output: `name=value` lines (stdout) and one human line starting with '#'.
 * Exit status: 0 ok, 1 failure (missing messages, nack, connection error, deadline).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#define HDR_BYTES 16 /* u64 send ns, u32 producer, u32 seq */

static struct {
  const char *host;
  int port;
  const char *workload;
  const char *queue;
  const char *user, *password, *vhost;
  long messages;
  int size;
  int producers, consumers;
  bool persistent;
  const char *queue_args;
  int inflight;
  int prefetch;
  int timeout_s;      /* global deadline */
  int idle_s;         /* consumers give up this long after producers finish with no delivery */
  bool delete_queue;
} cfg = {
    .host = "127.0.0.1",
    .port = 5672,
    .workload = "load",
    .queue = NULL,
    .user = "guest",
    .password = "guest",
    .vhost = "/",
    .messages = 100000,
    .size = 1024,
    .producers = 1,
    .consumers = 1,
    .persistent = true,
    .queue_args = "",
    .inflight = 1000,
    .prefetch = 1000,
    .timeout_s = 300,
    .idle_s = 10,
    .delete_queue = true,
};

static char queue_name[256];
static atomic_bool abort_flag;
static atomic_int consumers_ready;
static atomic_int producers_done;
static atomic_int threads_done;
static atomic_long sent, confirmed, nacked, received, unique_rx, duplicates, redelivered, bad_bodies;
static atomic_long errors;
static atomic_uint_fast64_t t_first_publish, t_last_new_delivery, t_last_confirm, t_producers_done;
static atomic_uchar *seen;       /* [messages] */
static uint64_t *latency_ns;     /* [messages], indexed by unique arrival order */
static long *producer_base;      /* first global index of each producer's messages */
static long *producer_count;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void atomic_max_u64(atomic_uint_fast64_t *a, uint64_t v) {
  uint64_t cur = atomic_load(a);
  while (cur < v && !atomic_compare_exchange_weak(a, &cur, v)) {
  }
}

static void set_first(atomic_uint_fast64_t *a, uint64_t v) {
  uint64_t zero = 0;
  atomic_compare_exchange_strong(a, &zero, v);
}

static void errorf(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errorf(const char *who, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "amqp_load: %s: ", who);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  atomic_fetch_add(&errors, 1);
}

static const char *reply_str(amqp_rpc_reply_t r, char *buf, size_t n) {
  switch (r.reply_type) {
  case AMQP_RESPONSE_NORMAL:
    return "ok";
  case AMQP_RESPONSE_NONE:
    return "missing RPC reply";
  case AMQP_RESPONSE_LIBRARY_EXCEPTION:
    return amqp_error_string2(r.library_error);
  case AMQP_RESPONSE_SERVER_EXCEPTION:
    if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      amqp_connection_close_t *m = r.reply.decoded;
      snprintf(buf, n, "server connection.close %u %.*s", m->reply_code, (int)m->reply_text.len,
               (char *)m->reply_text.bytes);
    } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
      amqp_channel_close_t *m = r.reply.decoded;
      snprintf(buf, n, "server channel.close %u %.*s", m->reply_code, (int)m->reply_text.len,
               (char *)m->reply_text.bytes);
    } else {
      snprintf(buf, n, "server exception method 0x%08X", r.reply.id);
    }
    return buf;
  }
  return "unknown reply";
}

static bool check_reply(const char *who, const char *what, amqp_rpc_reply_t r) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return true;
  char buf[512];
  errorf(who, "%s: %s", what, reply_str(r, buf, sizeof buf));
  return false;
}

/* Open a connection + channel 1. Returns NULL on failure. */
static amqp_connection_state_t open_conn(const char *who) {
  amqp_connection_state_t conn = amqp_new_connection();
  if (!conn) {
    errorf(who, "amqp_new_connection failed");
    return NULL;
  }
  amqp_socket_t *sock = amqp_tcp_socket_new(conn);
  if (!sock) {
    errorf(who, "amqp_tcp_socket_new failed");
    amqp_destroy_connection(conn);
    return NULL;
  }
  struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
  amqp_set_handshake_timeout(conn, &tv);
  struct timeval rpc = {.tv_sec = 60, .tv_usec = 0};
  amqp_set_rpc_timeout(conn, &rpc);
  int rc = amqp_socket_open_noblock(sock, cfg.host, cfg.port, &tv);
  if (rc != AMQP_STATUS_OK) {
    errorf(who, "connect %s:%d: %s", cfg.host, cfg.port, amqp_error_string2(rc));
    amqp_destroy_connection(conn);
    return NULL;
  }
  if (!check_reply(who, "login",
                   amqp_login(conn, cfg.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, cfg.user,
                              cfg.password))) {
    amqp_destroy_connection(conn);
    return NULL;
  }
  amqp_channel_open(conn, 1);
  if (!check_reply(who, "channel.open", amqp_get_rpc_reply(conn))) {
    amqp_destroy_connection(conn);
    return NULL;
  }
  return conn;
}

static void close_conn(amqp_connection_state_t conn, bool graceful) {
  if (!conn) return;
  if (graceful) {
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
}

/* ---------- producer ---------- */

struct producer {
  int id;
  pthread_t th;
  long n;           /* messages to send */
  long published;   /* delivery tags 1..published used */
  long acked_low;   /* all tags <= acked_low are settled */
  long settled;     /* number settled (ack or nack) */
  unsigned char *settled_map; /* [n + 1] */
  bool failed;
};

static void settle(struct producer *p, uint64_t tag, bool multiple, bool nack) {
  char who[32];
  snprintf(who, sizeof who, "producer %d", p->id);
  if (tag > (uint64_t)p->published || (tag == 0 && !multiple)) {
    errorf(who, "%s for unknown delivery tag %" PRIu64 " (published %ld)", nack ? "nack" : "ack",
           tag, p->published);
    p->failed = true;
    return;
  }
  if (tag == 0) tag = (uint64_t)p->published; /* multiple with tag 0 = everything so far */
  long from = multiple ? p->acked_low + 1 : (long)tag;
  long newly = 0;
  for (long t = from; t <= (long)tag; t++) {
    if (!p->settled_map[t]) {
      p->settled_map[t] = 1;
      newly++;
    }
  }
  while (p->acked_low < p->published && p->settled_map[p->acked_low + 1]) p->acked_low++;
  p->settled += newly;
  if (nack) {
    atomic_fetch_add(&nacked, newly);
    errorf(who, "basic.nack tag %" PRIu64 " multiple %d (%ld messages)", tag, multiple, newly);
  } else {
    atomic_fetch_add(&confirmed, newly);
  }
}

/* Wait for and handle one frame.  timeout NULL = block (in slices, watching abort/deadline).
 * Returns 1 if a frame was handled, 0 on timeout, -1 on fatal error. */
static int producer_read(struct producer *p, amqp_connection_state_t conn, bool block) {
  char who[32];
  snprintf(who, sizeof who, "producer %d", p->id);
  amqp_frame_t f;
  for (;;) {
    struct timeval tv = {.tv_sec = 0, .tv_usec = block ? 100000 : 0};
    int rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) {
      if (!block) return 0;
      if (atomic_load(&abort_flag)) return -1;
      continue;
    }
    if (rc != AMQP_STATUS_OK) {
      errorf(who, "read: %s", amqp_error_string2(rc));
      return -1;
    }
    break;
  }
  if (f.frame_type == AMQP_FRAME_HEARTBEAT) return 1;
  if (f.frame_type != AMQP_FRAME_METHOD) {
    errorf(who, "unexpected frame type %d", f.frame_type);
    return -1;
  }
  switch (f.payload.method.id) {
  case AMQP_BASIC_ACK_METHOD: {
    amqp_basic_ack_t *a = f.payload.method.decoded;
    settle(p, a->delivery_tag, a->multiple, false);
    return p->failed ? -1 : 1;
  }
  case AMQP_BASIC_NACK_METHOD: {
    amqp_basic_nack_t *a = f.payload.method.decoded;
    settle(p, a->delivery_tag, a->multiple, true);
    p->failed = true;
    return 1; /* keep going so the counts are complete; the run fails anyway */
  }
  case AMQP_CHANNEL_CLOSE_METHOD: {
    amqp_channel_close_t *m = f.payload.method.decoded;
    errorf(who, "server channel.close %u %.*s", m->reply_code, (int)m->reply_text.len,
           (char *)m->reply_text.bytes);
    return -1;
  }
  case AMQP_CONNECTION_CLOSE_METHOD: {
    amqp_connection_close_t *m = f.payload.method.decoded;
    errorf(who, "server connection.close %u %.*s", m->reply_code, (int)m->reply_text.len,
           (char *)m->reply_text.bytes);
    return -1;
  }
  case AMQP_CONNECTION_BLOCKED_METHOD:
    fprintf(stderr, "amqp_load: %s: connection.blocked by server\n", who);
    return 1;
  case AMQP_CONNECTION_UNBLOCKED_METHOD:
    return 1;
  default:
    errorf(who, "unexpected method 0x%08X", f.payload.method.id);
    return -1;
  }
}

static void *producer_main(void *arg) {
  struct producer *p = arg;
  char who[32];
  snprintf(who, sizeof who, "producer %d", p->id);
  amqp_connection_state_t conn = open_conn(who);
  bool ok = conn != NULL;
  if (ok) {
    amqp_confirm_select(conn, 1);
    ok = check_reply(who, "confirm.select", amqp_get_rpc_reply(conn));
  }
  char *body = NULL;
  if (ok) {
    body = malloc((size_t)cfg.size);
    for (int i = 0; i < cfg.size; i++) body[i] = (char)('a' + i % 26);
    p->settled_map = calloc((size_t)p->n + 1, 1);
  }
  amqp_basic_properties_t props;
  memset(&props, 0, sizeof props);
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = cfg.persistent ? 2 : 1;
  amqp_bytes_t q = amqp_cstring_bytes(queue_name);
  amqp_bytes_t b = {.len = (size_t)cfg.size, .bytes = body};

  while (ok && !p->failed && p->settled < p->n) {
    if (atomic_load(&abort_flag)) {
      ok = false;
      break;
    }
    if (p->published < p->n && p->published - p->settled < cfg.inflight) {
      uint64_t t = now_ns();
      uint32_t pid = (uint32_t)p->id, seq = (uint32_t)p->published;
      memcpy(body, &t, 8);
      memcpy(body + 8, &pid, 4);
      memcpy(body + 12, &seq, 4);
      set_first(&t_first_publish, t);
      int rc = amqp_basic_publish(conn, 1, amqp_empty_bytes, q, 0, 0, &props, b);
      if (rc != AMQP_STATUS_OK) {
        errorf(who, "basic.publish: %s", amqp_error_string2(rc));
        ok = false;
        break;
      }
      p->published++;
      atomic_fetch_add(&sent, 1);
      /* Opportunistically drain confirms that are already readable. */
      if ((p->published & 31) == 0 || amqp_data_in_buffer(conn)) {
        int r;
        while ((r = producer_read(p, conn, false)) == 1) {
        }
        if (r < 0) ok = false;
      }
    } else {
      int r = producer_read(p, conn, true);
      if (r < 0) ok = false;
      while (ok && (r = producer_read(p, conn, false)) == 1) {
      }
      if (r < 0) ok = false;
    }
  }
  if (p->settled == p->n) atomic_max_u64(&t_last_confirm, now_ns());
  if (!ok || p->failed) p->failed = true;
  close_conn(conn, ok);
  free(body);
  atomic_fetch_add(&producers_done, 1);
  atomic_max_u64(&t_producers_done, now_ns());
  atomic_fetch_add(&threads_done, 1);
  return NULL;
}

/* ---------- consumer ---------- */

struct consumer {
  int id;
  pthread_t th;
  long got;
  bool failed;
};

static void *consumer_main(void *arg) {
  struct consumer *c = arg;
  char who[32];
  snprintf(who, sizeof who, "consumer %d", c->id);
  bool ok = true;
  amqp_connection_state_t conn = open_conn(who);
  if (!conn) ok = false;
  if (ok) {
    amqp_basic_qos(conn, 1, 0, (uint16_t)cfg.prefetch, 0);
    ok = check_reply(who, "basic.qos", amqp_get_rpc_reply(conn));
  }
  if (ok) {
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue_name), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    ok = check_reply(who, "basic.consume", amqp_get_rpc_reply(conn));
  }
  atomic_fetch_add(&consumers_ready, 1);
  const long ack_every = cfg.prefetch / 4 > 1 ? cfg.prefetch / 4 : 1;
  long unacked = 0;
  uint64_t last_tag = 0;
  uint64_t last_activity = now_ns();
  while (ok) {
    if (atomic_load(&abort_flag)) {
      ok = false;
      break;
    }
    if (atomic_load(&unique_rx) >= cfg.messages) break;
    if (atomic_load(&producers_done) == cfg.producers &&
        now_ns() - last_activity > (uint64_t)cfg.idle_s * 1000000000ull &&
        now_ns() - atomic_load(&t_producers_done) > (uint64_t)cfg.idle_s * 1000000000ull)
      break; /* producers finished long ago and nothing more arrives */
    amqp_maybe_release_buffers(conn);
    amqp_envelope_t env;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
      if (unacked > 0) {
        if (amqp_basic_ack(conn, 1, last_tag, 1) != AMQP_STATUS_OK) {
          errorf(who, "basic.ack failed");
          ok = false;
        }
        unacked = 0;
      }
      continue;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      amqp_frame_t f;
      struct timeval ftv = {.tv_sec = 5, .tv_usec = 0};
      int rc = amqp_simple_wait_frame_noblock(conn, &f, &ftv);
      if (rc != AMQP_STATUS_OK) {
        errorf(who, "read: %s", amqp_error_string2(rc));
        ok = false;
        break;
      }
      if (f.frame_type == AMQP_FRAME_METHOD) {
        switch (f.payload.method.id) {
        case AMQP_CONNECTION_BLOCKED_METHOD:
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
          continue;
        case AMQP_CHANNEL_CLOSE_METHOD: {
          amqp_channel_close_t *m = f.payload.method.decoded;
          errorf(who, "server channel.close %u %.*s", m->reply_code, (int)m->reply_text.len,
                 (char *)m->reply_text.bytes);
          ok = false;
          break;
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
          amqp_connection_close_t *m = f.payload.method.decoded;
          errorf(who, "server connection.close %u %.*s", m->reply_code, (int)m->reply_text.len,
                 (char *)m->reply_text.bytes);
          ok = false;
          break;
        }
        case AMQP_BASIC_CANCEL_METHOD:
          errorf(who, "server cancelled the consumer");
          ok = false;
          break;
        default:
          errorf(who, "unexpected method 0x%08X", f.payload.method.id);
          ok = false;
          break;
        }
      }
      continue;
    }
    if (!check_reply(who, "consume", r)) {
      ok = false;
      break;
    }
    uint64_t t_rx = now_ns();
    last_activity = t_rx;
    c->got++;
    atomic_fetch_add(&received, 1);
    if (env.redelivered) atomic_fetch_add(&redelivered, 1);
    if (env.message.body.len != (size_t)cfg.size || env.message.body.len < HDR_BYTES) {
      atomic_fetch_add(&bad_bodies, 1);
    } else {
      uint64_t t_tx;
      uint32_t pid, seq;
      memcpy(&t_tx, env.message.body.bytes, 8);
      memcpy(&pid, (char *)env.message.body.bytes + 8, 4);
      memcpy(&seq, (char *)env.message.body.bytes + 12, 4);
      if (pid >= (uint32_t)cfg.producers || seq >= (uint64_t)producer_count[pid]) {
        atomic_fetch_add(&bad_bodies, 1);
      } else {
        long idx = producer_base[pid] + (long)seq;
        if (atomic_exchange(&seen[idx], 1)) {
          atomic_fetch_add(&duplicates, 1);
        } else {
          long k = atomic_fetch_add(&unique_rx, 1);
          latency_ns[k] = t_rx - t_tx;
          atomic_max_u64(&t_last_new_delivery, t_rx);
        }
      }
    }
    last_tag = env.delivery_tag;
    amqp_destroy_envelope(&env);
    if (++unacked >= ack_every) {
      if (amqp_basic_ack(conn, 1, last_tag, 1) != AMQP_STATUS_OK) {
        errorf(who, "basic.ack failed");
        ok = false;
        break;
      }
      unacked = 0;
    }
  }
  if (ok && unacked > 0 && amqp_basic_ack(conn, 1, last_tag, 1) != AMQP_STATUS_OK) {
    errorf(who, "basic.ack failed");
    ok = false;
  }
  c->failed = !ok;
  close_conn(conn, ok);
  atomic_fetch_add(&threads_done, 1);
  return NULL;
}

/* ---------- main ---------- */

/* Last resort if something blocks past the deadline (e.g. a broker that stops answering
 * during a handshake or RPC): report and exit from a separate thread. */
static uint64_t g_deadline;
static atomic_bool reporting;
static void *watchdog_main(void *arg) {
  (void)arg;
  while (now_ns() < g_deadline + 10000000000ull) usleep(100000);
  if (atomic_load(&reporting)) return NULL;
  printf("workload=%s\nqueue=%s\nmessages=%ld\nsent=%ld\nconfirmed=%ld\nunique=%ld\n"
         "missing=%ld\ntimed_out=yes\nresult=fail\n# %s: FAIL: stuck past the %d s deadline\n",
         cfg.workload, queue_name, cfg.messages, atomic_load(&sent), atomic_load(&confirmed),
         atomic_load(&unique_rx), cfg.messages - atomic_load(&unique_rx), cfg.workload,
         cfg.timeout_s);
  fflush(stdout);
  fprintf(stderr, "amqp_load: stuck %d s past the deadline; exiting\n", 10);
  _exit(1);
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, long n, double p) {
  if (n <= 0) return -1;
  long i = (long)(p * (double)n);
  if (i >= n) i = n - 1;
  return (double)v[i] / 1000.0;
}

static bool parse_bool(const char *s) {
  return !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "on");
}

/* "k=v,k2=v2": all-digit values become long-long, else strings. */
static amqp_table_t parse_args(char *spec, amqp_table_entry_t *entries, int max) {
  amqp_table_t t = {.num_entries = 0, .entries = entries};
  for (char *save = NULL, *tok = strtok_r(spec, ",", &save); tok && t.num_entries < max;
       tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) {
      fprintf(stderr, "amqp_load: bad queue argument '%s' (want key=value)\n", tok);
      exit(2);
    }
    *eq = 0;
    const char *v = eq + 1;
    amqp_table_entry_t *e = &entries[t.num_entries++];
    e->key = amqp_cstring_bytes(tok);
    bool digits = *v != 0;
    for (const char *s = (*v == '-' ? v + 1 : v); *s; s++)
      if (*s < '0' || *s > '9') digits = false;
    if (digits) {
      e->value.kind = AMQP_FIELD_KIND_I64;
      e->value.value.i64 = strtoll(v, NULL, 10);
    } else {
      e->value.kind = AMQP_FIELD_KIND_UTF8;
      e->value.value.bytes = amqp_cstring_bytes(v);
    }
  }
  return t;
}

static void usage(void) {
  fprintf(stderr,
          "usage: amqp_load [options]\n"
          "  --host H             (127.0.0.1)\n"
          "  --port P             (5672)\n"
          "  --workload NAME      label; also part of the queue name (load)\n"
          "  --queue NAME         queue name (default bench-<workload>-<pid>)\n"
          "  --messages N         total messages (100000)\n"
          "  --size BYTES         body size, >= 16 (1024)\n"
          "  --producers N        (1)\n"
          "  --consumers N        (1)\n"
          "  --persistent yes|no  delivery_mode 2 or 1 (yes)\n"
          "  --queue-args k=v,..  queue.declare arguments, e.g. x-queue-type=quorum\n"
          "  --inflight N         max unconfirmed publishes per producer (1000)\n"
          "  --prefetch N         basic.qos prefetch count per consumer (1000)\n"
          "  --timeout S          global deadline in seconds (300)\n"
          "  --idle S             consumers stop S seconds after producers finish and\n"
          "                       nothing arrives (10)\n"
          "  --delete-queue yes|no  queue.delete at the end (yes)\n"
          "  --user U --password P --vhost V  (guest/guest, /)\n");
  exit(2);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"host", 1, 0, 'h'},       {"port", 1, 0, 'p'},         {"workload", 1, 0, 'w'},
      {"queue", 1, 0, 'q'},      {"messages", 1, 0, 'n'},     {"size", 1, 0, 's'},
      {"producers", 1, 0, 'P'},  {"consumers", 1, 0, 'C'},    {"persistent", 1, 0, 'd'},
      {"queue-args", 1, 0, 'a'}, {"inflight", 1, 0, 'i'},     {"prefetch", 1, 0, 'f'},
      {"timeout", 1, 0, 't'},    {"idle", 1, 0, 'I'},         {"delete-queue", 1, 0, 'D'},
      {"user", 1, 0, 'u'},       {"password", 1, 0, 'W'},     {"vhost", 1, 0, 'v'},
      {"help", 0, 0, '?'},       {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'h': cfg.host = optarg; break;
    case 'p': cfg.port = atoi(optarg); break;
    case 'w': cfg.workload = optarg; break;
    case 'q': cfg.queue = optarg; break;
    case 'n': cfg.messages = atol(optarg); break;
    case 's': cfg.size = atoi(optarg); break;
    case 'P': cfg.producers = atoi(optarg); break;
    case 'C': cfg.consumers = atoi(optarg); break;
    case 'd': cfg.persistent = parse_bool(optarg); break;
    case 'a': cfg.queue_args = optarg; break;
    case 'i': cfg.inflight = atoi(optarg); break;
    case 'f': cfg.prefetch = atoi(optarg); break;
    case 't': cfg.timeout_s = atoi(optarg); break;
    case 'I': cfg.idle_s = atoi(optarg); break;
    case 'D': cfg.delete_queue = parse_bool(optarg); break;
    case 'u': cfg.user = optarg; break;
    case 'W': cfg.password = optarg; break;
    case 'v': cfg.vhost = optarg; break;
    default: usage();
    }
  }
  if (optind != argc || cfg.messages <= 0 || cfg.size < HDR_BYTES || cfg.producers <= 0 ||
      cfg.consumers <= 0 || cfg.inflight <= 0 || cfg.prefetch <= 0 || cfg.prefetch > 65535 ||
      cfg.timeout_s <= 0 || cfg.port <= 0 || cfg.messages / cfg.producers > 0xFFFFFFFFL)
    usage();
  if (cfg.queue)
    snprintf(queue_name, sizeof queue_name, "%s", cfg.queue);
  else
    snprintf(queue_name, sizeof queue_name, "bench-%s-%d", cfg.workload, (int)getpid());

  const uint64_t deadline = now_ns() + (uint64_t)cfg.timeout_s * 1000000000ull;
  g_deadline = deadline;
  pthread_t watchdog;
  pthread_create(&watchdog, NULL, watchdog_main, NULL);
  pthread_detach(watchdog);
  seen = calloc((size_t)cfg.messages, 1);
  latency_ns = calloc((size_t)cfg.messages, sizeof *latency_ns);
  producer_base = calloc((size_t)cfg.producers, sizeof *producer_base);
  producer_count = calloc((size_t)cfg.producers, sizeof *producer_count);
  for (int i = 0, base = 0; i < cfg.producers; i++) {
    producer_count[i] = cfg.messages / cfg.producers + (i < cfg.messages % cfg.producers);
    producer_base[i] = base;
    base += (int)producer_count[i];
  }

  /* Setup connection: declare the queue. */
  bool ok = true;
  amqp_connection_state_t setup = open_conn("setup");
  if (!setup) ok = false;
  if (ok) {
    char *spec = strdup(cfg.queue_args);
    amqp_table_entry_t entries[32];
    amqp_table_t args = parse_args(spec, entries, 32);
    amqp_queue_declare(setup, 1, amqp_cstring_bytes(queue_name), 0, 1, 0, 0, args);
    ok = check_reply("setup", "queue.declare", amqp_get_rpc_reply(setup));
    free(spec);
  }

  struct consumer *cons = calloc((size_t)cfg.consumers, sizeof *cons);
  struct producer *prods = calloc((size_t)cfg.producers, sizeof *prods);
  int started = 0;
  if (ok) {
    for (int i = 0; i < cfg.consumers; i++) {
      cons[i].id = i;
      pthread_create(&cons[i].th, NULL, consumer_main, &cons[i]);
      started++;
    }
    while (atomic_load(&consumers_ready) < cfg.consumers && now_ns() < deadline) usleep(1000);
    if (atomic_load(&errors) > 0) atomic_store(&abort_flag, true);
    for (int i = 0; i < cfg.producers; i++) {
      prods[i].id = i;
      prods[i].n = producer_count[i];
      pthread_create(&prods[i].th, NULL, producer_main, &prods[i]);
      started++;
    }
  }
  /* Watchdog: the deadline bounds everything, including a broker that stops answering. */
  bool timed_out = false;
  while (atomic_load(&threads_done) < started) {
    if (now_ns() >= deadline && !timed_out) {
      timed_out = true;
      fprintf(stderr, "amqp_load: deadline of %d s reached; aborting\n", cfg.timeout_s);
      atomic_store(&abort_flag, true);
    }
    usleep(10000);
  }
  for (int i = 0; i < cfg.consumers && i < started; i++) pthread_join(cons[i].th, NULL);
  for (int i = 0; i < cfg.producers && cfg.consumers + i < started; i++)
    pthread_join(prods[i].th, NULL);
  if (setup && cfg.delete_queue && !timed_out) {
    amqp_queue_delete(setup, 1, amqp_cstring_bytes(queue_name), 0, 0);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(setup);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      char buf[256];
      fprintf(stderr, "amqp_load: setup: queue.delete (ignored): %s\n", reply_str(r, buf, sizeof buf));
    }
    close_conn(setup, r.reply_type == AMQP_RESPONSE_NORMAL);
  } else if (setup) {
    close_conn(setup, false);
  }

  atomic_store(&reporting, true);
  long n_unique = atomic_load(&unique_rx);
  long missing = cfg.messages - n_unique;
  qsort(latency_ns, (size_t)n_unique, sizeof *latency_ns, cmp_u64);
  uint64_t t0 = atomic_load(&t_first_publish), t1 = atomic_load(&t_last_new_delivery);
  uint64_t tc = atomic_load(&t_last_confirm);
  double elapsed = (t0 && t1 > t0) ? (double)(t1 - t0) / 1e9 : 0;
  double confirm_s = (t0 && tc > t0) ? (double)(tc - t0) / 1e9 : 0;
  double rate = elapsed > 0 ? (double)n_unique / elapsed : 0;
  bool failed = !ok || timed_out || missing != 0 || atomic_load(&nacked) != 0 ||
                atomic_load(&errors) != 0 || atomic_load(&bad_bodies) != 0;
  for (int i = 0; i < cfg.producers; i++) failed |= prods[i].failed;
  for (int i = 0; i < cfg.consumers; i++) failed |= cons[i].failed;
  double mean = 0;
  for (long i = 0; i < n_unique; i++) mean += (double)latency_ns[i];
  mean = n_unique ? mean / (double)n_unique / 1000.0 : -1;

  printf("workload=%s\n", cfg.workload);
  printf("queue=%s\n", queue_name);
  printf("queue_args=%s\n", cfg.queue_args);
  printf("persistent=%s\n", cfg.persistent ? "yes" : "no");
  printf("message_size=%d\n", cfg.size);
  printf("producers=%d\nconsumers=%d\ninflight=%d\nprefetch=%d\n", cfg.producers, cfg.consumers,
         cfg.inflight, cfg.prefetch);
  printf("messages=%ld\n", cfg.messages);
  printf("sent=%ld\nconfirmed=%ld\nnacked=%ld\n", atomic_load(&sent), atomic_load(&confirmed),
         atomic_load(&nacked));
  printf("received=%ld\nunique=%ld\nmissing=%ld\nduplicates=%ld\nredelivered=%ld\nbad_bodies=%ld\n",
         atomic_load(&received), n_unique, missing, atomic_load(&duplicates),
         atomic_load(&redelivered), atomic_load(&bad_bodies));
  printf("errors=%ld\n", atomic_load(&errors));
  printf("elapsed_s=%.3f\nconfirm_s=%.3f\n", elapsed, confirm_s);
  printf("msgs_per_s=%.0f\n", rate);
  printf("latency_p50_us=%.1f\nlatency_p99_us=%.1f\nlatency_p999_us=%.1f\nlatency_max_us=%.1f\n"
         "latency_mean_us=%.1f\n",
         pct_us(latency_ns, n_unique, 0.50), pct_us(latency_ns, n_unique, 0.99),
         pct_us(latency_ns, n_unique, 0.999), pct_us(latency_ns, n_unique, 1.0), mean);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double client_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  printf("client_cpu_s=%.3f\nclient_cpu_us_per_msg=%.1f\n", client_cpu,
         client_cpu * 1e6 / (double)cfg.messages);
  printf("timed_out=%s\n", timed_out ? "yes" : "no");
  printf("result=%s\n", failed ? "fail" : "ok");
  printf("# %s: %s %ld/%ld msgs in %.2f s = %.0f msg/s, p50 %.0f us, p99 %.0f us "
         "(sent %ld, confirmed %ld, nacked %ld, missing %ld, dup %ld)\n",
         cfg.workload, failed ? "FAIL" : "ok", n_unique, cfg.messages, elapsed, rate,
         pct_us(latency_ns, n_unique, 0.50), pct_us(latency_ns, n_unique, 0.99),
         atomic_load(&sent), atomic_load(&confirmed), atomic_load(&nacked), missing,
         atomic_load(&duplicates));
  fflush(stdout);
  return failed ? 1 : 0;
}
