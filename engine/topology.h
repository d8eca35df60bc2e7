#pragma once

#include <atomic>
#include <functional>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/access/access.h"
#include "engine/binding_table.h"
#include "engine/command.h"
#include "engine/exchange_type.h"
#include "engine/ids.h"
#include "engine/policy.h"
#include "engine/queue.h"
#include "net/amqp/field_table.h"

// The broker's topology: vhosts, their exchanges with bindings, and the directory of their
// queues (name -> id, owning worker, settings). Changes are rare and may come from any
// worker: they take one mutex, apply in order, and bump a version. Routing never takes the
// mutex: each worker keeps a replica (topology_replica) that it rebuilds when it sees a
// newer version, so the message path reads only worker-private memory.
namespace haremq::engine {

struct binding_record {
  destination to;
  std::string routing_key;
  std::vector<std::byte> arguments;  // canonical_arguments() of the bind's table
  // A binding is its destination, key and arguments: binding twice adds nothing, and an
  // unbind must name all three.
  bool is(const destination& d, std::string_view key, const std::vector<std::byte>& canonical) const noexcept {
    return to == d && routing_key == key && arguments == canonical;
  }
};

struct exchange_record {
  std::string name;
  exchange_type type = exchange_type::direct;
  bool durable = false;
  bool auto_delete = false;
  bool internal = false;
  std::vector<std::byte> arguments;
  std::uint32_t id = 0;
  std::vector<binding_record> bindings;
};

struct queue_record {
  queue_id id;
  worker_id owner;
  queue_settings settings;
};

struct vhost_record {
  std::string name;
  std::map<std::string, exchange_record, std::less<>> exchanges;
  std::map<std::string, queue_record, std::less<>> queues;
  std::map<std::string, policy_record, std::less<>> policies;
};

// The policy that applies to a queue or exchange of `vhost` (the highest priority among those
// that match; the first name on a tie), or null.
const policy_record* applicable_policy(const vhost_record& vhost, bool is_queue, std::string_view name);

using vhost_map = std::map<std::string, vhost_record, std::less<>>;

// Whether a queue outlives a restart: durable, and not exclusive (an exclusive queue dies with
// its connection). An exchange does if it is durable; a binding if both its ends do.
inline bool is_durable(const queue_record& q) noexcept { return q.settings.durable && !q.settings.exclusive; }

// What a declare, bind or delete answers when it cannot be done: the reply code and
// RabbitMQ's text for it.
using topology_error = reply_error;

struct exchange_declaration {
  std::string_view name;
  std::string_view type;
  bool passive = false;
  bool durable = false;
  bool auto_delete = false;
  bool internal = false;
  amqp::field_table arguments;
};

struct queue_declaration {
  std::string_view name;  // empty: the server names it
  bool server_named = false;  // `name` came from new_queue_name(): amq.gen-* is allowed
  bool passive = false;
  bool durable = false;
  bool exclusive = false;
  bool auto_delete = false;
  amqp::field_table arguments;
  std::uint64_t incarnation = 0;  // a durable queue's, from the definitions file; 0: a new one
};

enum class binding_kind { queue, exchange };

// Everything the definitions file holds, as the persistence hook sees it (the store's mutex held).
struct definitions_view {
  const vhost_map& vhosts;
  const access::user_map& users;
  const access::permission_map& permissions;
  std::string_view retained;
};

class topology_store {
 public:
  topology_store();

  // The version every change bumps; read lock-free by the replicas.
  std::uint64_t version() const noexcept { return _version.load(std::memory_order_acquire); }

  bool vhost_exists(std::string_view vhost) const;
  // Adds a vhost with the default and amq.* exchanges; false if it exists already.
  bool add_vhost(std::string_view name);
  // Removes a vhost with its exchanges, queues and permissions; the queues it held are appended
  // to `queues` (their owners must drop them). False if there was no such vhost.
  bool delete_vhost(std::string_view name, std::vector<queue_record>& queues);
  std::vector<std::string> vhost_names() const;

  // Users and permissions. Every change bumps access_version(), which connections watch to
  // pick up new rights. A fresh store has RabbitMQ's first-boot state: vhost "/" and user
  // guest (password guest, administrator) with every right on it.
  std::uint64_t access_version() const noexcept { return _access_version.load(std::memory_order_acquire); }
  std::optional<access::user_record> find_user(std::string_view name) const;
  std::vector<access::user_record> users() const;
  // Adds or replaces a user (its permissions stay).
  void put_user(access::user_record user);
  // Removes a user and its permissions; false if there was none.
  bool delete_user(std::string_view name);
  // Sets a user's patterns in a vhost; the error text when the vhost or user is missing or a
  // pattern does not compile.
  std::optional<std::string> set_permissions(std::string_view vhost, std::string_view user,
                                             access::permission_record p);
  bool clear_permissions(std::string_view vhost, std::string_view user);
  std::optional<access::permission_record> find_permissions(std::string_view vhost, std::string_view user) const;
  access::permission_map permissions() const;
  // Forgets every user and permission: a definitions file that is the whole truth loads next.
  void clear_access();

  // exchange.declare: creates, or checks an existing one is equivalent.
  std::optional<topology_error> declare_exchange(std::string_view vhost, const exchange_declaration& d);
  std::optional<topology_error> delete_exchange(std::string_view vhost, std::string_view name, bool if_unused);

  // queue.declare of a new queue places it on `owner`; an existing one answers its record.
  // `connection` is the declaring connection (exclusive queues are its own).
  std::variant<queue_record, topology_error> declare_queue(std::string_view vhost, const queue_declaration& d,
                                                           worker_id owner, connection_key connection);
  // The queue named `name`, checked for exclusive use by `connection` (405 otherwise).
  std::variant<queue_record, topology_error> find_queue(std::string_view vhost, std::string_view name,
                                                        connection_key connection) const;
  // Removes a queue and every binding to it; false if it was not there.
  bool remove_queue(std::string_view vhost, queue_id id);
  // The record of the queue named `name`, whoever declared it.
  std::optional<queue_record> queue_named(std::string_view vhost, std::string_view name) const;

  // Policies. A change re-resolves the limits of the vhost's queues in their records; the
  // queues' owners must then take them (shard::reapply_policies). The error text when the
  // vhost does not exist.
  std::optional<std::string> put_policy(std::string_view vhost, policy_record p);
  bool delete_policy(std::string_view vhost, std::string_view name);
  std::vector<std::pair<std::string, policy_record>> policies() const;  // (vhost, policy)

  std::optional<topology_error> bind(std::string_view vhost, binding_kind kind, std::string_view destination,
                                     std::string_view source, std::string_view routing_key,
                                     amqp::field_table arguments, connection_key connection);
  std::optional<topology_error> unbind(std::string_view vhost, binding_kind kind, std::string_view destination,
                                       std::string_view source, std::string_view routing_key,
                                       amqp::field_table arguments, connection_key connection);

  // A name for a server-named queue ("amq.gen-..."), as declare_queue would choose.
  std::string new_queue_name() const;
  // Replaces how server-named queues are named (tests replaying a capture use RabbitMQ's).
  void set_name_generator(std::function<std::string()> generate) { _generate_name = std::move(generate); }

  // A copy of the whole topology and its version, for a replica.
  std::pair<vhost_map, std::uint64_t> snapshot() const;

  // What a definitions file holds that the store does not model yet (topic permissions,
  // parameters, vhost metadata): a JSON object of those sections, as the last
  // import left it, kept so that an export gives them back.
  std::string retained_definitions() const;
  void set_retained_definitions(std::string json);

  // Called after each change to the durable part of the topology (a vhost, a durable exchange
  // or queue, a binding between durable ends, the retained definitions), with the mutex held
  // so that saves happen in the order of the changes. Transient declares never call it: they
  // stay cheap.
  // It returns false when the save failed: the store stays "failing" until retry_persistence()
  // saves it, and meanwhile the broker blocks publishers and holds confirms (a queue declared
  // then must not lose its confirmed messages to a crash).
  using persistence = std::function<bool(const definitions_view& definitions)>;
  void set_persistence(persistence save);
  bool persistence_failing() const noexcept { return _save_failing.load(std::memory_order_acquire); }
  void retry_persistence();

  // While a batch lives, the persistence hook is held back and called once when the last
  // batch ends, if something durable changed meanwhile (an import's many declares, one save).
  class persistence_batch {
   public:
    explicit persistence_batch(topology_store& store);
    ~persistence_batch();
    persistence_batch(const persistence_batch&) = delete;
    persistence_batch& operator=(const persistence_batch&) = delete;

   private:
    topology_store& _store;
  };

 private:
  void changed() noexcept { _version.fetch_add(1, std::memory_order_acq_rel); }
  void access_changed() noexcept { _access_version.fetch_add(1, std::memory_order_acq_rel); }
  void persist();  // with the mutex held

  mutable std::mutex _mutex;
  std::map<std::string, vhost_record, std::less<>> _vhosts;
  std::atomic<std::uint64_t> _version{1};
  std::uint32_t _next_exchange_id = 1;
  std::uint32_t _next_queue_id = 1;
  std::function<std::string()> _generate_name;
  std::string _retained;
  access::user_map _users;
  access::permission_map _permissions;
  std::atomic<std::uint64_t> _access_version{1};
  persistence _save;
  int _open_batches = 0;
  bool _unsaved = false;
  std::atomic<bool> _save_failing{false};
};

// Where a routed message goes: a queue and its owner.
struct queue_target {
  queue_id queue;
  worker_id owner;
};

// One worker's private, read-only copy of the topology, used to route messages without
// locks. Not thread-safe (one per worker).
class topology_replica {
  struct exchange_view;
  struct vhost_view;

 public:
  explicit topology_replica(const topology_store& store) : _store(store) {}

  // Rebuilds the replica if the store has changed since; cheap when it has not.
  void refresh();

  // Bumped by every refresh() that rebuilt the replica: handles taken before are gone.
  std::uint64_t version() const noexcept { return _version; }

  // An exchange found once and routed through many times (a channel publishing to the same
  // exchange): valid until version() changes. Empty: no such exchange.
  class exchange_handle {
   public:
    exchange_handle() = default;
    explicit operator bool() const noexcept { return _exchange != nullptr; }
    const exchange_record& record() const noexcept;

   private:
    friend class topology_replica;
    exchange_handle(const vhost_view* vhost, const exchange_view* exchange) noexcept : _vhost(vhost), _exchange(exchange) {}
    const vhost_view* _vhost = nullptr;
    const exchange_view* _exchange = nullptr;
  };
  exchange_handle find_exchange_handle(std::string_view vhost, std::string_view name) const;

  // The queues a message reaches from the exchange it was published to, by its routing key
  // and those its CC and BCC headers add (exchange-to-exchange bindings followed, each queue
  // once); false if there is no such exchange. The message's headers are decoded only if a
  // headers exchange is on the way or it has header routes.
  bool route(std::string_view vhost, const message& msg, std::vector<queue_target>& out);
  // The same from an exchange already found (msg.exchange() names it).
  void route(exchange_handle from, const message& msg, std::vector<queue_target>& out);

  const exchange_record* find_exchange(std::string_view vhost, std::string_view name) const;
  const queue_record* find_queue(std::string_view vhost, queue_id id) const;

 private:
  struct exchange_view {
    exchange_record record;  // without its bindings: those are in `table`
    binding_table table;
    std::string alternate;  // its alternate exchange (argument, else policy); empty: none
  };
  struct vhost_view {
    std::map<std::string, exchange_view, std::less<>> exchanges;
    std::map<std::string, queue_record, std::less<>> queues;
    std::map<std::uint32_t, const exchange_view*> exchanges_by_id;
    std::map<std::uint32_t, const queue_record*> queues_by_id;
  };

  const topology_store& _store;
  std::uint64_t _version = 0;
  std::map<std::string, vhost_view, std::less<>> _vhosts;
  std::vector<destination> _scratch;
  std::vector<const exchange_view*> _pending;
  std::vector<std::uint32_t> _visited_exchanges;
  std::vector<std::string_view> _keys;  // the routing keys of the message being routed
};

}  // namespace haremq::engine
