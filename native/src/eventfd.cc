// eventfd(2): how VFIO delivers interrupts (VFIO_DEVICE_SET_IRQS wires a vector to an
// eventfd and the kernel adds 1 to its counter per interrupt). Three ways to wait:
// eventfdRead (poll without blocking), eventfdWait (block this thread in poll(2), for
// worker threads that own a queue), EventfdWatcher (a uv_poll_t on this thread's libuv
// loop that calls back in JavaScript).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "receiver.h"

namespace vfio_node {
namespace {

// Reads (and so resets) the counter of a non-blocking eventfd: false when it was 0.
bool ReadCounter(int fd, uint64_t* value, int* err) {
  ssize_t n;
  do n = read(fd, value, sizeof *value);
  while (n < 0 && errno == EINTR);
  if (n == sizeof *value) return true;
  *err = n < 0 ? errno : EIO;
  return false;
}

[[noreturn]] void ThrowRead(Napi::Env env, int fd, int err) {
  ThrowSyscall(env, "read", err, "read of eventfd " + std::to_string(fd));
}

// eventfdCreate(): eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK).
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) ThrowSyscall(env, "eventfd", errno, "eventfd");
  return Napi::Number::New(env, fd);
}

// eventfdRead(fd): the counter, or 0n when nothing was signalled (EAGAIN).
Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "fd");
  uint64_t value = 0;
  int err = 0;
  if (!ReadCounter(fd, &value, &err) && err != EAGAIN) ThrowRead(env, fd, err);
  return Napi::BigInt::New(env, value);
}

// eventfdWrite(fd, value = 1): adds value to the counter (at most 2^64 - 2).
void Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "fd");
  uint64_t value = info.Length() < 2 || info[1].IsUndefined() ? 1 : ToU64(env, info[1], "value", UINT64_MAX - 1);
  ssize_t n;
  do n = write(fd, &value, sizeof value);
  while (n < 0 && errno == EINTR);
  if (n != sizeof value) ThrowSyscall(env, "write", n < 0 ? errno : EIO, "write of eventfd " + std::to_string(fd));
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// The longest one poll(2) of eventfdWait blocks before the wait checks that its thread
// may still run JavaScript: the longest worker.terminate() (or process.exit() on the main
// thread, once per blocked worker) waits on a blocked eventfdWait that the event loop's
// fd did not wake first. A wait of at most this long needs no check.
constexpr int kSliceMs = 100;

// eventfdWait's results besides an index.
constexpr int kTimedOut = -1;
constexpr int kInterrupted = -2;

napi_value Noop(napi_env, napi_callback_info) { return nullptr; }

// Whether this thread's environment may still run JavaScript. worker.terminate(), and
// process.exit() on the main thread (once for each worker), stop a worker from another
// thread: Node's Environment::ExitEnv sets the environment's stopping flag and calls V8's
// TerminateExecution. N-API tells an addon nothing then, but from that moment it refuses to
// call into JavaScript: napi_call_function returns napi_pending_exception (Node 20 for
// modules of a numbered N-API version; napi_cannot_run_js for the experimental one) before
// it runs anything, so no exception is left pending. Calling a no-op function is therefore
// the check; it costs about a microsecond, paid once per slice of idle waiting.
bool MayRunJavaScript(napi_env env) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value fn, recv, result;
  bool ok = napi_create_function(env, "noop", NAPI_AUTO_LENGTH, Noop, nullptr, &fn) == napi_ok &&
            napi_get_undefined(env, &recv) == napi_ok &&
            napi_call_function(env, recv, fn, 0, nullptr, &result) == napi_ok;
  napi_close_handle_scope(env, scope);
  return ok;
}

// eventfdWait(fds, timeoutMs): poll(2) until one fd is readable, then consume its
// counter and return its index. Blocks the calling thread (meant for workers). Other
// results:
//   -1  timeoutMs passed (timeoutMs -1: never).
//   -2  interrupted: return to the event loop, then wait again. The loop has something to
//       run: a signal was handled while waiting (poll's EINTR; for example libuv's handler
//       of a JavaScript process.on('SIGINT'), whose JavaScript runs on the loop), or, on
//       the main thread in a wait longer than kSliceMs, the loop had an event pending (a
//       signal that came while JavaScript ran between two waits shows only that way).
//       Treating -2 like -1 is correct when the caller yields to the event loop (await
//       setImmediate, say) before it waits again; on the main thread, waiting again at
//       once would return -2 at once.
//       Also returned when the thread is being stopped (worker.terminate(), or
//       process.exit() on the main thread while this worker waits): V8 then terminates
//       the JavaScript that called at its next interrupt check, and the thread can end.
// A wait longer than kSliceMs also polls this thread's libuv loop (its epoll fd, readable
// while the loop has an event to handle). Stopping a worker queues a task on its loop
// (uv_async_send), which wakes such a wait at once. On a worker a readable loop that can
// still run JavaScript is left for later (its fd stays readable until the loop runs, so
// watching it further would spin), and the check of each slice covers the rest: a loop
// that had an event pending when the wait began, or that has not polled yet (its handles
// are not in its epoll set before its first turn).
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value list = Arg(info, 0);
  if (!list.IsArray()) ThrowArg(env, kErrInvalidArg, "fds must be an array (got " + Describe(list) + ")");
  Napi::Array fds = list.As<Napi::Array>();
  int timeout = static_cast<int>(ToInt(env, Arg(info, 1), "timeoutMs", -1, INT32_MAX));
  constexpr uint32_t kMaxFds = 4096;
  // The length is read once, and each element copied before it is checked: an element
  // may be a getter that runs JavaScript, which could change the array under the loop.
  const uint32_t count = fds.Length();
  if (count > kMaxFds) ThrowArg(env, kErrOutOfRange, "fds: at most " + std::to_string(kMaxFds) + " fds");
  if (count == 0 && timeout < 0) ThrowArg(env, kErrInvalidArg, "fds is empty and timeoutMs is -1: would block forever");
  std::vector<pollfd> pfds(count);
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value fd = fds.Get(i);
    pfds[i] = pollfd{ToFd(env, fd, "fds[i]"), POLLIN, 0};
  }
  if (fds.Length() != count) {
    ThrowArg(env, kErrInvalidArg, "fds changed while it was read (from " + std::to_string(count) + " to " +
                                      std::to_string(fds.Length()) + " elements): pass a plain array of fds");
  }

  const bool sliced = timeout < 0 || timeout > kSliceMs;
  bool watchingLoop = false;
  bool mainThread = false;  // Node runs its main thread on libuv's default loop
  if (sliced) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) == napi_ok && loop != nullptr && uv_backend_fd(loop) >= 0) {
      pfds.push_back(pollfd{uv_backend_fd(loop), POLLIN, 0});
      watchingLoop = true;
      mainThread = loop == uv_default_loop();
    }
  }

  const int64_t deadline = timeout < 0 ? 0 : NowMs() + timeout;
  for (;;) {
    int left = timeout < 0 ? -1 : static_cast<int>(std::max<int64_t>(0, deadline - NowMs()));
    int slice = !sliced ? left : left < 0 ? kSliceMs : std::min(left, kSliceMs);
    int n = poll(pfds.data(), pfds.size(), slice);
    if (n < 0 && errno == EINTR) return Napi::Number::New(env, kInterrupted);
    if (n < 0) ThrowSyscall(env, "poll", errno, "poll of " + std::to_string(count) + " eventfds");
    if (n == 0) {
      if (timeout >= 0 && slice >= left) return Napi::Number::New(env, kTimedOut);
      if (!MayRunJavaScript(env)) return Napi::Number::New(env, kInterrupted);
      continue;
    }
    for (uint32_t i = 0; i < count; i++) {
      if (pfds[i].revents & POLLNVAL) ThrowSyscall(env, "poll", EBADF, "poll of fd " + std::to_string(pfds[i].fd));
      if (!(pfds[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      uint64_t value;
      int err = 0;
      if (ReadCounter(pfds[i].fd, &value, &err)) return Napi::Number::New(env, static_cast<double>(i));
      if (err != EAGAIN) ThrowRead(env, pfds[i].fd, err);
      // EAGAIN: another reader took the count first; keep waiting.
    }
    if (watchingLoop && pfds[count].revents) {
      if (mainThread || !MayRunJavaScript(env)) return Napi::Number::New(env, kInterrupted);
      pfds.pop_back();  // a worker's event, for after the wait (the slices still check)
      watchingLoop = false;
    }
  }
}

// ---- EventfdWatcher ----

class EventfdWatcher;

// The libuv side of a watcher. It outlives the JS object until libuv calls OnClosed,
// and is registered as an async cleanup hook so that a worker exiting with a running
// watcher waits for the handle to close (a worker's loop must have no open handles).
// It polls its own duplicate of the caller's fd: when the caller closes theirs, epoll
// keeps watching the same eventfd and libuv never meets a closed fd (its epoll_ctl would
// fail with EBADF, and libuv aborts on that). The duplicate is closed once libuv let go.
struct WatchPoll {
  uv_poll_t handle;
  int fd;        // ours, from F_DUPFD_CLOEXEC
  int callerFd;  // the caller's, for messages
  EventfdWatcher* owner;  // null once the watcher let go of it
  napi_async_cleanup_hook_handle hook = nullptr;
  bool closing = false;

  static void OnClosed(uv_handle_t* h) {
    auto* self = static_cast<WatchPoll*>(h->data);
    if (self->hook) napi_remove_async_cleanup_hook(self->hook);  // also ends a running cleanup
    close(self->fd);  // libuv has removed it from its epoll set
    delete self;
  }
  void Close() {
    owner = nullptr;
    if (!closing) {
      closing = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&handle), OnClosed);
    }
  }
  static void OnEnvCleanup(napi_async_cleanup_hook_handle, void* arg);
  static void OnPoll(uv_poll_t* h, int status, int events);
};

class EventfdWatcher : public Napi::ObjectWrap<EventfdWatcher> {
 public:
  static constexpr napi_type_tag kTypeTag = {0x51c2e98d7a3f0b64ULL, 0x0d9b3e27c46a81f5ULL};
  static constexpr const char* kClassName = "EventfdWatcher";
  static EventfdWatcher* Unwrap(Napi::Object self) { return UnwrapReceiver<EventfdWatcher>(self); }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "EventfdWatcher",
                       {
                           InstanceMethod<&EventfdWatcher::Stop>("stop"),
                           InstanceMethod<&EventfdWatcher::SetRef<true>>("ref"),
                           InstanceMethod<&EventfdWatcher::SetRef<false>>("unref"),
                       });
  }

  // new EventfdWatcher(fd, callback): starts watching at once, on a duplicate of fd (the
  // caller may close fd while the watcher runs). While running, the JS object is kept
  // alive (a strong self-reference), like a timer.
  explicit EventfdWatcher(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<EventfdWatcher>(info), context_(info.Env(), "EventfdWatcher") {
    Napi::Env env = info.Env();
    TagReceiver<EventfdWatcher>(env, info.This().As<Napi::Object>());
    int fd = ToFd(env, Arg(info, 0), "fd");
    Napi::Value cb = Arg(info, 1);
    if (!cb.IsFunction()) ThrowArg(env, kErrInvalidArg, "callback must be a function (got " + Describe(cb) + ")");
    uv_loop_t* loop = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));

    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) ThrowSyscall(env, "fcntl", errno, "EventfdWatcher: duplicating fd " + std::to_string(fd));
    auto* poll = new WatchPoll{};
    poll->fd = own;
    poll->callerFd = fd;
    poll->handle.data = poll;
    int r = uv_poll_init(loop, &poll->handle, own);
    if (r < 0) {
      close(own);
      delete poll;  // uv_poll_init failed before registering the handle
      ThrowSyscall(env, "uv_poll_init", -r, "watching eventfd " + std::to_string(fd));
    }
    r = uv_poll_start(&poll->handle, UV_READABLE, WatchPoll::OnPoll);
    if (r < 0) {
      poll->Close();
      ThrowSyscall(env, "uv_poll_start", -r, "watching eventfd " + std::to_string(fd));
    }
    if (napi_add_async_cleanup_hook(env, WatchPoll::OnEnvCleanup, poll, &poll->hook) != napi_ok) poll->hook = nullptr;
    poll->owner = this;
    poll_ = poll;
    callback_ = Napi::Persistent(cb.As<Napi::Function>());
    Ref();
  }

  // Only reached after stop() or at environment teardown (a running watcher holds a
  // reference to itself); closes the handle if it is still open.
  ~EventfdWatcher() override {
    if (poll_) poll_->Close();
  }

  // Called from WatchPoll when the environment is going away: the handle is closing.
  void Detach() { poll_ = nullptr; }

  // The eventfd is readable: read (and reset) the counter, then call back.
  void Fire() {
    uint64_t count = 0;
    int err = 0;
    if (!ReadCounter(poll_->fd, &count, &err)) {
      if (err != EAGAIN) Fail("read", err);  // EAGAIN: someone else read it first
      return;
    }
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      callback_.MakeCallback(Value(), {Napi::BigInt::New(env, count)}, context_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());  // an exception thrown by the callback is uncaught
    }
  }

  // Polling or reading failed (not an eventfd, or closed under us): stop polling, since
  // a level-triggered poll would fire again at once, and raise an uncaught exception.
  void Fail(const char* syscall, int err) {
    uv_poll_stop(&poll_->handle);
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      ThrowSyscall(env, syscall, err, std::string("EventfdWatcher: ") + syscall + " of fd " + std::to_string(poll_->callerFd));
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

 private:
  // stop(): closes the libuv handle (freed, and its fd closed, by its close callback) and
  // lets go of the callback and of the self-reference. Idempotent.
  void Stop(const Napi::CallbackInfo&) {
    if (!poll_) return;
    poll_->Close();
    poll_ = nullptr;
    callback_.Reset();
    Unref();
  }

  // ref()/unref(): whether the watcher keeps the event loop alive.
  template <bool kRef>
  void SetRef(const Napi::CallbackInfo&) {
    if (!poll_) return;
    auto* h = reinterpret_cast<uv_handle_t*>(&poll_->handle);
    if (kRef) uv_ref(h);
    else uv_unref(h);
  }

  WatchPoll* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::AsyncContext context_;
};

void WatchPoll::OnPoll(uv_poll_t* h, int status, int) {
  auto* self = static_cast<WatchPoll*>(h->data);
  if (!self->owner) return;
  if (status < 0) self->owner->Fail("uv_poll", -status);
  else self->owner->Fire();
}

void WatchPoll::OnEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
  auto* self = static_cast<WatchPoll*>(arg);
  if (self->owner) self->owner->Detach();
  self->Close();  // OnClosed removes the hook, which tells Node the cleanup is done
}

}  // namespace

void InitEventfd(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfdCreate", Napi::Function::New<Create>(env, "eventfdCreate"));
  exports.Set("eventfdRead", Napi::Function::New<Read>(env, "eventfdRead"));
  exports.Set("eventfdWrite", Napi::Function::New<Write>(env, "eventfdWrite"));
  exports.Set("eventfdWait", Napi::Function::New<Wait>(env, "eventfdWait"));
  exports.Set("EventfdWatcher", EventfdWatcher::Define(env));
}

}  // namespace vfio_node
