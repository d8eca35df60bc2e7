/* A rabbitmq-c (librabbitmq 0.11) client for the integration suite: declare, confirm.select,
 * publish (confirmed), a mandatory publish returned as unroutable, consume one message, ack,
 * a channel error on a second channel, clean close. Prints one line per step; the Python test
 * (test_rabbitmq_c.py) compares the lines with what RabbitMQ produced.
 *
 * Usage: rabbitmq_c_client HOST PORT. Exit status 0 only if every step did what was expected.
 * Every wait is bounded: the socket open, each RPC and each frame wait time out after 10 s. */
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static struct timeval timeout_10s(void) {
  struct timeval tv = {10, 0};
  return tv;
}

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("FAIL ", stdout);
  vfprintf(stdout, fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
  exit(1);
}

static void check_reply(amqp_rpc_reply_t r, const char *what) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_NONE:
      fail("%s: missing RPC reply", what);
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      fail("%s: %s", what, amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      fail("%s: server exception 0x%08x", what, r.reply.id);
  }
  fail("%s: unknown reply type", what);
}

static void print_bytes(const char *label, amqp_bytes_t b) {
  printf("%s=%.*s", label, (int)b.len, (const char *)b.bytes);
}

/* Next frame on the connection, or exit: no frame within 10 s is a failure. */
static void wait_frame(amqp_connection_state_t conn, amqp_frame_t *frame, const char *what) {
  struct timeval tv = timeout_10s();
  int rc = amqp_simple_wait_frame_noblock(conn, frame, &tv);
  if (rc != AMQP_STATUS_OK) fail("%s: %s", what, amqp_error_string2(rc));
}

static void expect_ack(amqp_connection_state_t conn, uint64_t tag) {
  amqp_frame_t frame;
  wait_frame(conn, &frame, "wait for basic.ack");
  if (frame.frame_type != AMQP_FRAME_METHOD || frame.payload.method.id != AMQP_BASIC_ACK_METHOD)
    fail("expected basic.ack, got frame type %d method 0x%08x", frame.frame_type, frame.payload.method.id);
  amqp_basic_ack_t *ack = (amqp_basic_ack_t *)frame.payload.method.decoded;
  if (ack->delivery_tag != tag) fail("ack for tag %llu, expected %llu", (unsigned long long)ack->delivery_tag,
                                     (unsigned long long)tag);
  printf("confirm ack delivery_tag=%llu multiple=%d\n", (unsigned long long)ack->delivery_tag, ack->multiple);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  struct timeval tv = timeout_10s();

  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t *sock = amqp_tcp_socket_new(conn);
  if (!sock) fail("amqp_tcp_socket_new");
  int rc = amqp_socket_open_noblock(sock, host, port, &tv);
  if (rc != AMQP_STATUS_OK) fail("open %s:%d: %s", host, port, amqp_error_string2(rc));
  if (amqp_set_rpc_timeout(conn, &tv) != AMQP_STATUS_OK) fail("amqp_set_rpc_timeout");
  check_reply(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
  printf("login ok channel_max=%d frame_max=%d heartbeat=%d\n", amqp_get_channel_max(conn),
         amqp_get_frame_max(conn), amqp_get_heartbeat(conn));

  amqp_channel_open(conn, 1);
  check_reply(amqp_get_rpc_reply(conn), "channel.open");
  amqp_confirm_select(conn, 1);
  check_reply(amqp_get_rpc_reply(conn), "confirm.select");
  printf("confirm.select ok\n");

  amqp_queue_declare_ok_t *declared = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 0, amqp_empty_table);
  check_reply(amqp_get_rpc_reply(conn), "queue.declare");
  amqp_bytes_t queue = amqp_bytes_malloc_dup(declared->queue);
  printf("queue.declare ok server-named=%d message_count=%u consumer_count=%u\n",
         queue.len > 8 && memcmp(queue.bytes, "amq.gen-", 8) == 0, declared->message_count,
         declared->consumer_count);

  amqp_basic_properties_t props;
  memset(&props, 0, sizeof props);
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG;
  props.content_type = amqp_cstring_bytes("text/plain");
  props.delivery_mode = 2;
  props.correlation_id = amqp_cstring_bytes("c-42");
  rc = amqp_basic_publish(conn, 1, amqp_empty_bytes, queue, 0, 0, &props,
                          amqp_cstring_bytes("hello from rabbitmq-c"));
  if (rc != AMQP_STATUS_OK) fail("basic.publish: %s", amqp_error_string2(rc));
  expect_ack(conn, 1);

  /* mandatory and unroutable: basic.return (with its content), then the ack */
  rc = amqp_basic_publish(conn, 1, amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes("nowhere"), 1, 0, NULL,
                          amqp_cstring_bytes("bounce"));
  if (rc != AMQP_STATUS_OK) fail("basic.publish mandatory: %s", amqp_error_string2(rc));
  amqp_frame_t frame;
  wait_frame(conn, &frame, "wait for basic.return");
  if (frame.frame_type != AMQP_FRAME_METHOD || frame.payload.method.id != AMQP_BASIC_RETURN_METHOD)
    fail("expected basic.return, got frame type %d method 0x%08x", frame.frame_type, frame.payload.method.id);
  amqp_basic_return_t *ret = (amqp_basic_return_t *)frame.payload.method.decoded;
  printf("basic.return reply_code=%d ", ret->reply_code);
  print_bytes("reply_text", ret->reply_text);
  putchar(' ');
  print_bytes("exchange", ret->exchange);
  putchar(' ');
  print_bytes("routing_key", ret->routing_key);
  putchar('\n');
  amqp_message_t returned;
  check_reply(amqp_read_message(conn, 1, &returned, 0), "read returned message");
  print_bytes("returned body", returned.body);
  putchar('\n');
  amqp_destroy_message(&returned);
  expect_ack(conn, 2);

  amqp_basic_consume_ok_t *consumed =
      amqp_basic_consume(conn, 1, queue, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  check_reply(amqp_get_rpc_reply(conn), "basic.consume");
  amqp_bytes_t consumer_tag = amqp_bytes_malloc_dup(consumed->consumer_tag);
  printf("basic.consume ok tag-generated=%d\n", consumer_tag.len > 0);

  amqp_envelope_t envelope;
  amqp_maybe_release_buffers(conn);
  tv = timeout_10s();
  check_reply(amqp_consume_message(conn, &envelope, &tv, 0), "consume message");
  printf("deliver delivery_tag=%llu redelivered=%d ", (unsigned long long)envelope.delivery_tag,
         envelope.redelivered);
  print_bytes("exchange", envelope.exchange);
  printf(" routing_key-is-queue=%d ", envelope.routing_key.len == queue.len &&
                                          memcmp(envelope.routing_key.bytes, queue.bytes, queue.len) == 0);
  print_bytes("content_type", envelope.message.properties.content_type);
  printf(" delivery_mode=%d ", envelope.message.properties.delivery_mode);
  print_bytes("correlation_id", envelope.message.properties.correlation_id);
  putchar(' ');
  print_bytes("body", envelope.message.body);
  putchar('\n');
  if (amqp_basic_ack(conn, 1, envelope.delivery_tag, 0) != AMQP_STATUS_OK) fail("basic.ack");
  amqp_destroy_envelope(&envelope);

  amqp_basic_cancel(conn, 1, consumer_tag);
  check_reply(amqp_get_rpc_reply(conn), "basic.cancel");
  declared = amqp_queue_declare(conn, 1, queue, 1, 0, 0, 0, amqp_empty_table);
  check_reply(amqp_get_rpc_reply(conn), "queue.declare passive");
  printf("after ack message_count=%u consumer_count=%u\n", declared->message_count, declared->consumer_count);

  /* a channel error on channel 2: the server closes it, we answer close-ok */
  amqp_channel_open(conn, 2);
  check_reply(amqp_get_rpc_reply(conn), "channel.open 2");
  amqp_queue_declare(conn, 2, amqp_cstring_bytes("rabbitmq-c-no-such-queue"), 1, 0, 0, 0, amqp_empty_table);
  amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
  if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION || r.reply.id != AMQP_CHANNEL_CLOSE_METHOD)
    fail("expected channel.close for a missing queue, got reply type %d", r.reply_type);
  amqp_channel_close_t *close = (amqp_channel_close_t *)r.reply.decoded;
  printf("channel.close reply_code=%d ", close->reply_code);
  print_bytes("reply_text", close->reply_text);
  printf(" class_id=%d method_id=%d\n", close->class_id, close->method_id);
  amqp_channel_close_ok_t close_ok;
  memset(&close_ok, 0, sizeof close_ok);
  if (amqp_send_method(conn, 2, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok) != AMQP_STATUS_OK)
    fail("channel.close-ok");

  check_reply(amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS), "channel.close");
  check_reply(amqp_connection_close(conn, AMQP_REPLY_SUCCESS), "connection.close");
  amqp_bytes_free(queue);
  amqp_bytes_free(consumer_tag);
  if (amqp_destroy_connection(conn) != AMQP_STATUS_OK) fail("destroy connection");
  printf("closed\n");
  return 0;
}
