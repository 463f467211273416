// The SIGBUS guard (see sigbus.h). Everything the handler touches is async-signal-safe:
// a fixed table of lock-free atomics (no allocation, no lock), mmap, mremap, munmap,
// memset, sigaction and raise.
#include "sigbus.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

namespace vfio_node {
namespace {

// One guarded range, [start, end). `start` is also the slot's state: 0 when free,
// kClaimed while GuardRange fills the slot in, else the range's first address. A slot is
// published by storing start last (release); the handler reads start, end and start again
// and trusts the pair only when start did not change, i.e. the slot was not recycled
// for another range between the two loads.
struct Slot {
  std::atomic<uintptr_t> start{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<bool> gone{false};
};
static_assert(std::atomic<uintptr_t>::is_always_lock_free, "the handler needs lock-free atomics");
static_assert(std::atomic<bool>::is_always_lock_free, "the handler needs lock-free atomics");
static_assert(std::atomic<int>::is_always_lock_free, "the handler needs lock-free atomics");

constexpr uintptr_t kClaimed = 1;  // never a page address

Slot g_slots[kGuardSlots];
// Slots below g_used have been claimed at some time: the handler scans only those.
std::atomic<int> g_used{0};
// Both set once, before the handler is installed (sigaction orders them before it runs).
size_t g_page = 0;
struct sigaction g_previous;
std::once_flag g_install;

// The slot whose range holds addr, or -1.
int FindSlot(uintptr_t addr) {
  int used = g_used.load(std::memory_order_acquire);
  for (int i = 0; i < used; i++) {
    Slot& s = g_slots[i];
    uintptr_t start = s.start.load(std::memory_order_acquire);
    if (start <= kClaimed) continue;
    uintptr_t end = s.end.load(std::memory_order_acquire);
    if (s.start.load(std::memory_order_acquire) != start) continue;  // recycled meanwhile
    if (addr >= start && addr < end) return i;
  }
  return -1;
}

// Puts an anonymous private page of 0xFF bytes at `page` in place of what was there.
// The page is filled first, elsewhere, and then moved in with one mremap, so that another
// thread touching the page meanwhile sees either the old mapping (and faults too) or all
// ones, never a page of zeros. If that fails, the page is mapped in place and then filled.
bool ReplaceWithOnes(uintptr_t page) {
  void* target = reinterpret_cast<void*>(page);
  void* scratch = mmap(nullptr, g_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (scratch != MAP_FAILED) {
    memset(scratch, 0xff, g_page);
    if (mremap(scratch, g_page, g_page, MREMAP_MAYMOVE | MREMAP_FIXED, target) != MAP_FAILED) return true;
    munmap(scratch, g_page);
  }
  void* p = mmap(target, g_page, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  memset(p, 0xff, g_page);
  return true;
}

// A SIGBUS that is not ours goes where it would have gone without us.
void Chain(int sig, siginfo_t* info, void* context) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) {
      g_previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (g_previous.sa_handler == SIG_IGN) {
    // Ignored: only a SIGBUS sent with kill(2) and the like (si_code <= 0) is; the kernel
    // kills a process whose fault it cannot deliver, so a fault falls through to dying.
    if (info == nullptr || info->si_code <= 0) return;
  } else if (g_previous.sa_handler != SIG_DFL) {
    g_previous.sa_handler(sig);
    return;
  }
  // The default action: put it back and raise the signal again. It stays pending (blocked
  // while this handler runs) and ends the process as soon as the handler returns, with
  // the same signal (and core dump) as if we had never been installed.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, nullptr);
  raise(SIGBUS);
}

void OnSigbus(int sig, siginfo_t* info, void* context) {
  int saved = errno;  // mmap may change it under the interrupted code
  // BUS_ADRERR: no page can be found for the address (a zapped BAR, a file's end). Not
  // alignment faults (BUS_ADRALN) nor memory errors: a new page would not cure those.
  if (info != nullptr && info->si_code == BUS_ADRERR) {
    uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
    int slot = FindSlot(addr);
    if (slot >= 0) {
      // Gone first: whoever reads the ones afterwards (another thread) also sees the flag.
      g_slots[slot].gone.store(true, std::memory_order_release);
      if (ReplaceWithOnes(addr & ~(static_cast<uintptr_t>(g_page) - 1))) {
        errno = saved;
        return;  // the faulting access runs again and now reads all ones
      }
    }
  }
  errno = saved;
  Chain(sig, info, context);
}

// Installs OnSigbus, remembering the handler it replaces. If sigaction fails, nothing is
// guarded (g_previous then stays as it was, and a fault kills the process as before).
void Install() {
  g_page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = OnSigbus;
  sigemptyset(&sa.sa_mask);
  // SA_ONSTACK: on the alternate signal stack when the thread has one.
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGBUS, &sa, &g_previous);
}

}  // namespace

int GuardRange(void* addr, size_t size) {
  std::call_once(g_install, Install);
  uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  uintptr_t end = start + (size + g_page - 1) / g_page * g_page;
  for (int i = 0; i < kGuardSlots; i++) {
    uintptr_t expected = 0;
    if (!g_slots[i].start.compare_exchange_strong(expected, kClaimed, std::memory_order_acq_rel)) continue;
    g_slots[i].end.store(end, std::memory_order_relaxed);
    g_slots[i].gone.store(false, std::memory_order_relaxed);
    int used = g_used.load(std::memory_order_relaxed);
    while (used < i + 1 && !g_used.compare_exchange_weak(used, i + 1, std::memory_order_release)) {
    }
    g_slots[i].start.store(start, std::memory_order_release);
    return i;
  }
  return -1;
}

void UnguardRange(int slot) {
  if (slot < 0 || slot >= kGuardSlots) return;
  g_slots[slot].start.store(0, std::memory_order_release);
}

bool RangeGone(int slot) {
  if (slot < 0 || slot >= kGuardSlots) return false;
  return g_slots[slot].gone.load(std::memory_order_acquire);
}

}  // namespace vfio_node
