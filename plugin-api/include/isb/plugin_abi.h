/*
 * plugin_abi.h: the stable C ABI between the Intelligent Sandbox host and its
 * plugins. This header is the only thing a plugin and the core share.
 *
 * Rules (see docs/plugin-abi.md for the full text):
 *  - One exported symbol per library: isb_plugin_get().
 *  - Strings crossing the boundary are UTF-8 and NUL-terminated. Byte buffers
 *    (command output) are passed as pointer + length.
 *  - Structured data (configs, specs, results, facts, plans) crosses as JSON text.
 *  - Booleans are uint8_t, enums travel as int32_t, no C++ type ever crosses.
 *  - Every struct starts with struct_size. Within a major version fields are only
 *    appended; a reader uses a field only if it lies inside the struct_size the
 *    writer reported (ISB_HAS_FIELD).
 *  - Whoever allocates frees. Documents a function produces are handed to an
 *    isb_json_out callback during the call; the receiver copies them.
 *  - Exported functions never throw or longjmp: the SDK catches everything.
 *
 * Usage (plugin side, with the SDK): see sdk/include/isb/sdk/plugin.hpp.
 */
#ifndef ISB_PLUGIN_ABI_H_
#define ISB_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version. Majors must match; the host's minor must be >= the plugin's.
 * 1.0: the first stable version.
 * 1.1: appended isb_request_ctx.admitted, isb_host_api.admit and
 *      isb_host_api.security_policy_json (read them only with ISB_HAS_FIELD).
 * 1.2: appended isb_isolation_api.sandbox_status, isb_request_ctx.client_address
 *      (lockouts after failed authentications count per client address) and
 *      isb_analyzer_api.analyze_tree (the tree as a directory fd); analyzers
 *      built against 1.2 must set it and may leave the path form analyze NULL.
 *      Hosts never give an analyzer built against 1.0/1.1 a path to a
 *      workspace tree: they skip it (see isb_analyzer_api).
 * 1.3: appended isb_event_sink.is_detached (a request whose client is gone is
 *      told apart from one the client cancelled: work the server owns goes on),
 *      the "long_running" and "task_support" members of the list_operations
 *      catalogue, and isb_request_ctx.client_roots_json (the directories the
 *      MCP client offered as roots: a session's allowed source roots). */
#define ISB_ABI_MAJOR 1
#define ISB_ABI_MINOR 3

/* The name of the one symbol each plugin library exports. */
#define ISB_PLUGIN_ENTRY_SYMBOL "isb_plugin_get"

/* True when the struct at ptr, which reported its size in its first member,
 * contains the whole of field. */
#define ISB_HAS_FIELD(ptr, type, field) \
  ((ptr) != NULL && (ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* Status codes returned by every call that can fail. */
enum {
  ISB_OK = 0,
  ISB_ERROR = 1,            /* failure not covered below; see last_error */
  ISB_INVALID_ARGUMENT = 2, /* the input document or a parameter is wrong */
  ISB_INVALID_CONFIG = 3,   /* the configuration handed to create is wrong */
  ISB_NOT_SUPPORTED = 4,    /* this plugin does not do that (planner: task not applicable) */
  ISB_TIMEOUT = 5,
  ISB_CANCELLED = 6,
  ISB_UNAVAILABLE = 7,      /* a resource the plugin needs is not there (engine down, ...) */
  ISB_NOT_FOUND = 8         /* an id (sandbox, operation, ...) is unknown */
};
typedef int32_t isb_status;

/* Plugin kinds. */
enum {
  ISB_KIND_ISOLATION = 1,
  ISB_KIND_ANALYZER = 2,
  ISB_KIND_PLANNER = 3,
  ISB_KIND_TRANSPORT = 4
};

/* Log levels, as used by isb_host_api.log. */
enum {
  ISB_LOG_TRACE = 0,
  ISB_LOG_DEBUG = 1,
  ISB_LOG_INFO = 2,
  ISB_LOG_WARN = 3,
  ISB_LOG_ERROR = 4
};

/* Capability bits (isb_plugin_descriptor.capabilities). */
/* Calls on one instance may come from several threads at once. Without this
 * bit the host serializes every call on an instance. */
#define ISB_CAP_THREAD_SAFE ((uint64_t)1 << 0)

/* Output stream identifiers for isb_output_sink.emit. */
enum { ISB_STREAM_STDOUT = 1, ISB_STREAM_STDERR = 2 };

/* An opaque plugin instance, created by isb_plugin_descriptor.create. */
typedef struct isb_instance isb_instance;

/* Receives one JSON document produced by the callee.
 * OWNERSHIP: json is owned by the callee and valid only during set(); the
 * receiver copies it. set() is called at most once per call that takes it. */
typedef struct isb_json_out {
  uint32_t struct_size;
  void* user;
  void (*set)(void* user, const char* json, size_t len);
} isb_json_out;

/* ------------------------------------------------------------------------ */
/* Host API: handed to create(); valid until the instance is destroyed.     */
/* ------------------------------------------------------------------------ */

/* Context of one client request, built by a transport. All strings may be NULL.
 * OWNERSHIP: owned by the caller, valid only during the call it is passed to. */
typedef struct isb_request_ctx {
  uint32_t struct_size;
  const char* transport;   /* transport plugin id, e.g. "mcp-stdio" */
  const char* principal;   /* authenticated identity, if the transport knows one */
  const char* client_id;   /* session or peer identifier, for rate limits and audit */
  const char* request_id;  /* the protocol-level id of the request, as text */
  const char* credential;  /* API key presented by the client, checked by the core */
  /* Since 1.1. 1 when the transport already passed this request through host admit()
   * (authenticated and charged to the rate limiter), so call_operation checks
   * the credential again but does not charge the request a second time. */
  uint8_t admitted;
  /* Since 1.2. The network address of the peer, as text ("127.0.0.1", "::1"),
   * or NULL when the transport has none (stdio). Failed authentications are
   * counted and locked out per address, and audit lines record it; without it
   * the core counts per transport and client_id. */
  const char* client_address;
  /* Since 1.3. The directories the client offered for this session (MCP
   * roots), as JSON: {"roots":["/abs/dir", ...]}; the core then allows
   * create_workspace sources only beneath them (and beneath
   * sandbox.allowed_source_roots when that is configured). When the client
   * offered roots but the list could not be had, {"roots":[],"error":"why"}:
   * every source is refused with that reason (fail closed). NULL when the
   * client offered no roots (or the transport has no such notion): the
   * configured roots or their defaults apply. Paths are absolute, already
   * decoded from file:// URIs; the core canonicalizes them. */
  const char* client_roots_json;
} isb_request_ctx;

/* Where an operation sends events while it runs (progress, output chunks).
 * Event JSON: {"type":"progress","progress":N,"total":M?,"message":"..."}
 *             {"type":"output","stream":"stdout"|"stderr","data":"..."}
 * OWNERSHIP: owned by the transport, valid for the whole call_operation call.
 * THREADING: on_event may be called from any thread, never concurrently for one
 * call; is_cancelled and is_detached may be called from any thread at any time
 * during the call. */
typedef struct isb_event_sink {
  uint32_t struct_size;
  void* user;
  /* OWNERSHIP: event_json is owned by the host, valid only during the callback. */
  void (*on_event)(void* user, const char* event_json, size_t len);
  /* Returns 1 once the client has cancelled the request. May be NULL. */
  uint8_t (*is_cancelled)(void* user);
  /* Since 1.3. Returns 1 once the request is abandoned: its client or session
   * is gone, so nobody will read the result, but nobody asked to stop the
   * work either. A transport sets is_cancelled as well (a 1.2 host then stops
   * the work, as before), after is_detached, so a host that sees is_cancelled
   * can ask is_detached which of the two it is. An operation that started
   * work the server owns (a background execution) stops waiting for it and
   * leaves it running; other operations treat it as cancelled. May be NULL. */
  uint8_t (*is_detached)(void* user);
} isb_event_sink;

typedef struct isb_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  void* host_ctx; /* pass back as the first argument of every function below */

  /* Writes one log line through the host's logger.
   * OWNERSHIP: message is owned by the caller, copied by the host.
   * THREADING: thread-safe. */
  void (*log)(void* host_ctx, int32_t level, const char* message);

  /* Runs one operation (tool) and hands its result to result->set.
   * On ISB_OK the document is the operation's result; on any other status it is
   * {"error":{"code":"invalid_argument"|..., "message":"..."}} where message says
   * what was wrong and what to do. Blocks until the operation has finished.
   * Transports only; NULL for other kinds.
   * OWNERSHIP: all arguments owned by the caller, valid only during the call; the
   * result document is owned by the host, valid only during result->set.
   * THREADING: thread-safe; calls may run concurrently. */
  isb_status (*call_operation)(void* host_ctx, const char* operation, const char* args_json,
                               const isb_request_ctx* request, const isb_event_sink* events,
                               const isb_json_out* result);

  /* Hands the operation catalogue to out->set as a JSON array of
   * {"name","title","description","input_schema","output_schema","annotations"}
   * in a stable order. Since 1.3 an entry may also carry
   *   "long_running": true   the call may block for long (it waits on work in
   *                          a sandbox): schedule it apart from quick calls;
   *   "task_support": "optional"  the operation starts an execution that the
   *                          server runs in the background: it takes
   *                          "wait": false to return at once, with either its
   *                          final result or {"execution_id","status":"running",
   *                          "since",...}; wait_execution(execution_id,
   *                          timeout_s, since) waits for it and
   *                          cancel_execution(execution_id) stops it.
   * Transports only; NULL for other kinds.
   * OWNERSHIP: the document is owned by the host, valid only during out->set.
   * THREADING: thread-safe. */
  isb_status (*list_operations)(void* host_ctx, const isb_json_out* out);

  /* Host identification: {"name","version","abi":"<major>.<minor>"}.
   * OWNERSHIP: owned by the host, valid while the host API is. */
  const char* host_info_json;

  /* Since 1.1. Admits one client request at the transport's front door: checks the API
   * key (request->credential) and charges the request to the rate limiter of
   * its key or client. On ISB_OK out gets {"principal":"..."}; otherwise
   * {"error":{"code":"unauthenticated"|"rate_limited","message","retry_after_s"?}}
   * with ISB_INVALID_ARGUMENT (bad or missing key) or ISB_UNAVAILABLE (rate).
   * Transports only; NULL for other kinds (and in hosts older than this field).
   * OWNERSHIP: as call_operation. THREADING: thread-safe. */
  isb_status (*admit)(void* host_ctx, const isb_request_ctx* request, const isb_json_out* out);

  /* Since 1.1. The host's front-door policy: {"api_keys_required":bool,
   * "rate_limit":{"requests_per_minute","burst"}}. A transport that binds to a
   * non-loopback address must refuse to serve unless api_keys_required.
   * OWNERSHIP: owned by the host, valid while the host API is. */
  const char* security_policy_json;
} isb_host_api;

/* ------------------------------------------------------------------------ */
/* Kind-specific function tables. Each starts with its own struct_size.     */
/* Every function returns a status; on failure last_error() says why.       */
/* ------------------------------------------------------------------------ */

/* Receives command output while it is produced.
 * OWNERSHIP: owned by the host, valid for the whole exec call; bytes are owned
 * by the plugin and valid only during emit(); the host copies.
 * THREADING: emit is called from the thread running exec, never concurrently. */
typedef struct isb_output_sink {
  uint32_t struct_size;
  void* user;
  void (*emit)(void* user, int32_t stream, const char* bytes, size_t len);
  /* Returns 1 once the caller wants the command stopped. May be NULL. */
  uint8_t (*is_cancelled)(void* user);
} isb_output_sink;

typedef struct isb_isolation_api {
  uint32_t struct_size;
  /* What this backend enforces on this host: {"backend","available":bool,"protections":
   * [{"name","enforced":bool,"detail","fix"?}],...}; "fix": on one not enforced, what an operator
   * runs here so that it is. "mounts_overlay": true tells the host to pass overlay workspaces'
   * layers in the sandbox spec rather than mount the overlay itself.
   * OWNERSHIP: document owned by the plugin, valid during out->set. */
  isb_status (*probe)(isb_instance* self, const isb_json_out* out);
  /* Creates a long-lived sandbox for one workspace.
   * spec: {"workspace_id","workspace_path","resource_limits":{...}}, and for
   *       an overlay workspace on a backend whose probe said "mounts_overlay":
   *       "overlay":{"lower","upper","work"}: the backend mounts the overlay at
   *       workspace_path (an empty directory) and unmounts it at sandbox_destroy;
   *       ISB_NOT_SUPPORTED when overlayfs cannot (the host then copies).
   * out:  {"sandbox_id", ...backend details}
   * OWNERSHIP: spec owned by the host, valid during the call; out as above. */
  isb_status (*sandbox_create)(isb_instance* self, const char* spec_json, const isb_json_out* out);
  /* Runs one command inside a sandbox and waits for it.
   * spec: {"argv":[...]} or {"shell":"..."}, "cwd" (relative to the workspace),
   *       "env":{...}, "timeout_ms", "max_output_bytes"
   * out:  {"exit_code","signal","timed_out","cancelled","duration_ms", ...}
   * OWNERSHIP: sandbox_id, spec and sink owned by the host, valid during the call. */
  isb_status (*sandbox_exec)(isb_instance* self, const char* sandbox_id, const char* spec_json,
                             const isb_output_sink* sink, const isb_json_out* out);
  /* Ends every process of the sandbox and releases what it holds.
   * OWNERSHIP: sandbox_id owned by the host, valid during the call. */
  isb_status (*sandbox_destroy)(isb_instance* self, const char* sandbox_id);
  /* Removes sandboxes left by an earlier run that the host no longer knows.
   * known_ids_json: JSON array of sandbox ids still in use. out: {"removed":[...]}
   * OWNERSHIP: arguments owned by the host, valid during the call. */
  isb_status (*reconcile)(isb_instance* self, const char* known_ids_json, const isb_json_out* out);
  /* Since 1.2 (may be NULL, or absent by struct_size, in older plugins). What
   * runs in a sandbox now: {"processes": N}, N counting its processes other
   * than the sandbox's own init or agent; 0 when nothing runs (background
   * processes a command left count). The host asks before idle cleanup and
   * while it watches disk_mb; a backend that cannot tell leaves this NULL,
   * and the host then assumes nothing runs between commands.
   * OWNERSHIP: sandbox_id owned by the host, valid during the call; out as above. */
  isb_status (*sandbox_status)(isb_instance* self, const char* sandbox_id, const isb_json_out* out);
} isb_isolation_api;

/* The tree an analyzer reads is written by sandboxed code, which may swap any
 * directory in it for a symlink to a host path while the analyzer runs. So a
 * host gives analyzers the tree as a directory fd (analyze_tree), and an
 * analyzer opens every file and directory beneath that fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
 * relative to the root fd or to a directory fd opened that way, never by
 * joining names to a path string (sdk/include/isb/sdk/tree.hpp does this).
 * An analyzer built against ABI 1.0 or 1.1 offers only the path form; a host
 * does not call it on a workspace tree: it skips that analyzer, says so in the
 * analysis' warnings and logs it (fail-closed). */
typedef struct isb_analyzer_api {
  uint32_t struct_size;
  /* Until 1.1: facts about the directory tree at root_path (see docs/schemas).
   * Deprecated since 1.2: hosts never call it on a tree that sandboxed code can
   * change; an analyzer built against 1.2 may set it to NULL (the SDK does).
   * OWNERSHIP: arguments owned by the host, valid during the call; document
   * owned by the plugin, valid during out->set. */
  isb_status (*analyze)(isb_instance* self, const char* root_path, const char* options_json,
                        const isb_json_out* out);
  /* Since 1.2; required from plugins built against 1.2 or later. Facts about
   * the directory tree whose root is root_dirfd (see docs/schemas). Paths in the
   * facts are relative to that root.
   * root_dirfd: a directory fd, possibly O_PATH; the analyzer reads only beneath
   * it (see above), may dup it, and never closes it. ISB_INVALID_ARGUMENT when
   * it is not an open directory.
   * OWNERSHIP: root_dirfd and options_json owned by the host, valid during the
   * call; document owned by the plugin, valid during out->set.
   * THREADING: as the descriptor's capabilities say; the fd may be shared by
   * concurrent calls on other instances. */
  isb_status (*analyze_tree)(isb_instance* self, int32_t root_dirfd, const char* options_json,
                             const isb_json_out* out);
} isb_analyzer_api;

typedef struct isb_planner_api {
  uint32_t struct_size;
  /* request: {"task","analysis":{...},"options":{...}}
   * out: {"steps":[...],"unmet":[...]}. ISB_NOT_SUPPORTED means this planner does
   * not apply to the task and the host should try the next one.
   * OWNERSHIP: request owned by the host, valid during the call; document owned
   * by the plugin, valid during out->set. */
  isb_status (*plan)(isb_instance* self, const char* request_json, const isb_json_out* out);
} isb_planner_api;

typedef struct isb_transport_api {
  uint32_t struct_size;
  /* Serves clients until the transport ends (stdio: end of input) or stop() is
   * called; blocks the calling thread for that long.
   * THREADING: called once, on a thread the host dedicates to it. */
  isb_status (*serve)(isb_instance* self);
  /* Asks serve() to return soon. Idempotent.
   * THREADING: may be called from any thread while serve() runs. */
  isb_status (*stop)(isb_instance* self);
} isb_transport_api;

/* ------------------------------------------------------------------------ */
/* The descriptor                                                           */
/* ------------------------------------------------------------------------ */

typedef struct isb_plugin_descriptor {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  int32_t kind;              /* ISB_KIND_* */
  const char* id;            /* unique, [a-z0-9-]+, e.g. "process" */
  const char* name;          /* human-readable */
  const char* version;       /* semver of the plugin */
  const char* description;
  const char* config_schema; /* JSON Schema of the config given to create, or NULL */
  uint64_t capabilities;     /* ISB_CAP_* bits */

  /* Creates an instance. config_json is the plugin's config section (an object).
   * On failure *out is left NULL and last_error(NULL) on the same thread says why.
   * OWNERSHIP: host and config_json are owned by the host (host stays valid until
   * destroy); *out is owned by the plugin until destroy().
   * THREADING: any thread. */
  isb_status (*create)(const isb_host_api* host, const char* config_json, isb_instance** out);
  /* Destroys an instance; no call on it may be in flight.
   * OWNERSHIP: frees self. */
  void (*destroy)(isb_instance* self);
  /* The message of the last failed call on this instance from this thread (or of
   * create, with self == NULL). Never NULL; "" when there is none.
   * OWNERSHIP: owned by the plugin, valid until the next call on self from this thread. */
  const char* (*last_error)(isb_instance* self);

  /* Points at the isb_<kind>_api matching kind. OWNERSHIP: static in the plugin. */
  const void* kind_api;
} isb_plugin_descriptor;

/* The entry point. Returns a pointer to static data that stays valid while the
 * library is loaded. Never NULL. */
typedef const isb_plugin_descriptor* (*isb_plugin_get_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ISB_PLUGIN_ABI_H_ */
