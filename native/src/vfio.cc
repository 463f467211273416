// VFIO ioctls (<linux/vfio.h>, type1 v2 container API), one short wrapper each. The
// container (/dev/vfio/vfio) picks the IOMMU model, groups (/dev/vfio/<n>) join a
// container, devices come from their group. MAP_DMA/UNMAP_DMA live in dma.cc beside
// the memory they map.
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "vfio_ioctl.h"

namespace vfio_node {

int VfioIoctl(Napi::Env env, int fd, unsigned long request, void* arg, const char* name) {
  int r;
  do r = ioctl(fd, request, arg);
  while (r < 0 && errno == EINTR);
  if (r < 0) ThrowSyscall(env, name, errno, std::string(name) + " on fd " + std::to_string(fd));
  return r;
}

namespace {

// An INFO ioctl whose struct starts with argsz and may be followed by a capability chain.
// When the caps do not fit, the kernel succeeds anyway but raises argsz to the size it
// needs (and leaves cap_offset 0): grow the buffer and ask again.
std::vector<uint64_t> InfoWithCaps(Napi::Env env, int fd, unsigned long request, const char* name,
                                   const void* init, uint32_t size) {
  constexpr uint32_t kMaxInfo = 1 << 20;  // far beyond any real chain; stops a runaway loop
  uint32_t argsz = size;
  for (int attempt = 0;; attempt++) {
    std::vector<uint64_t> buf((argsz + 7) / 8, 0);
    memcpy(buf.data(), init, size);
    memcpy(buf.data(), &argsz, sizeof argsz);  // argsz is the first field of every INFO struct
    VfioIoctl(env, fd, request, buf.data(), name);
    uint32_t want;
    memcpy(&want, buf.data(), sizeof want);
    if (want <= argsz) return buf;
    if (attempt == 3 || want > kMaxInfo) {
      ThrowSyscallMessage(env, name, EOVERFLOW,
                          std::string(name) + " on fd " + std::to_string(fd) + " kept asking for a larger buffer (" +
                              std::to_string(want) + " bytes)");
    }
    argsz = want;
  }
}

// Visits each capability header of an INFO reply of `size` bytes, starting at `first`.
// Offsets are from the start of the reply; each header must lie inside it, and `next`
// must move forward (the kernel appends caps in order), so a bad chain cannot loop.
template <typename Visit>
void ForEachCap(const std::vector<uint64_t>& buf, uint32_t first, Visit visit) {
  const uint8_t* base = reinterpret_cast<const uint8_t*>(buf.data());
  const size_t size = buf.size() * 8;
  uint32_t off = first;
  while (off != 0 && off % 4 == 0 && off + sizeof(vfio_info_cap_header) <= size) {
    const auto* header = reinterpret_cast<const vfio_info_cap_header*>(base + off);
    visit(header, size - off);
    if (header->next <= off) break;
    off = header->next;
  }
}

Napi::BigInt Big(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

// VFIO_GET_API_VERSION: must be VFIO_API_VERSION (0) for this API to apply.
Napi::Value GetApiVersion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "containerFd");
  return Napi::Number::New(env, VFIO_IOCTL(env, fd, VFIO_GET_API_VERSION, nullptr));
}

// VFIO_CHECK_EXTENSION: > 0 when the container supports the extension (an IOMMU type).
Napi::Value CheckExtension(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "containerFd");
  uint32_t ext = static_cast<uint32_t>(ToInt(env, Arg(info, 1), "extension", 0, UINT32_MAX));
  int r = VfioIoctl(env, fd, VFIO_CHECK_EXTENSION, reinterpret_cast<void*>(uintptr_t{ext}), "VFIO_CHECK_EXTENSION");
  return Napi::Boolean::New(env, r > 0);
}

// VFIO_SET_IOMMU: picks the IOMMU model once a group has been added to the container.
void SetIommu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "containerFd");
  uint32_t type = static_cast<uint32_t>(ToInt(env, Arg(info, 1), "type", 0, UINT32_MAX));
  VfioIoctl(env, fd, VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{type}), "VFIO_SET_IOMMU");
}

// VFIO_IOMMU_GET_INFO: supported IOMMU page sizes, plus the usable IOVA ranges
// (CAP_IOVA_RANGE, which excludes reserved regions such as the MSI window) and the
// number of DMA mappings still allowed (DMA_AVAIL).
Napi::Value IommuGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "containerFd");
  vfio_iommu_type1_info init{};
  auto buf = InfoWithCaps(env, fd, VFIO_IOMMU_GET_INFO, "VFIO_IOMMU_GET_INFO", &init, sizeof init);
  vfio_iommu_type1_info reply;
  memcpy(&reply, buf.data(), sizeof reply);

  Napi::Object out = Napi::Object::New(env);
  out.Set("flags", reply.flags);
  out.Set("pageSizes", Big(env, reply.flags & VFIO_IOMMU_INFO_PGSIZES ? reply.iova_pgsizes : 0));
  Napi::Array ranges = Napi::Array::New(env);
  int64_t dmaAvail = -1;
  if (reply.flags & VFIO_IOMMU_INFO_CAPS) {
    ForEachCap(buf, reply.cap_offset, [&](const vfio_info_cap_header* h, size_t room) {
      if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE && room >= sizeof(vfio_iommu_type1_info_cap_iova_range)) {
        const auto* cap = reinterpret_cast<const vfio_iommu_type1_info_cap_iova_range*>(h);
        size_t fit = (room - sizeof *cap) / sizeof(vfio_iova_range);
        for (uint32_t i = 0; i < cap->nr_iovas && i < fit; i++) {
          Napi::Object r = Napi::Object::New(env);
          r.Set("start", Big(env, cap->iova_ranges[i].start));
          r.Set("end", Big(env, cap->iova_ranges[i].end));
          ranges.Set(i, r);
        }
      } else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL && room >= sizeof(vfio_iommu_type1_info_dma_avail)) {
        dmaAvail = reinterpret_cast<const vfio_iommu_type1_info_dma_avail*>(h)->avail;
      }
    });
  }
  out.Set("iovaRanges", ranges);
  out.Set("dmaAvail", Napi::Number::New(env, static_cast<double>(dmaAvail)));
  return out;
}

// VFIO_GROUP_GET_STATUS: VIABLE once every device of the group is bound to vfio (or
// no driver); CONTAINER_SET once the group is in a container.
Napi::Value GroupGetStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "groupFd");
  vfio_group_status status{};
  status.argsz = sizeof status;
  VFIO_IOCTL(env, fd, VFIO_GROUP_GET_STATUS, &status);
  return Napi::Number::New(env, status.flags);
}

// VFIO_GROUP_SET_CONTAINER: the argument is a pointer to the container fd.
void GroupSetContainer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "groupFd");
  int32_t container = ToFd(env, Arg(info, 1), "containerFd");
  VFIO_IOCTL(env, fd, VFIO_GROUP_SET_CONTAINER, &container);
}

// VFIO_GROUP_UNSET_CONTAINER: leaves the container (its last group tears down the IOMMU).
void GroupUnsetContainer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "groupFd");
  VFIO_IOCTL(env, fd, VFIO_GROUP_UNSET_CONTAINER, nullptr);
}

// VFIO_GROUP_GET_DEVICE_FD: the argument is the device name ("0000:00:04.0"); returns a
// new fd (the kernel opens it O_CLOEXEC; FD_CLOEXEC is set again to be sure).
Napi::Value GroupGetDeviceFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "groupFd");
  std::string name = ToPath(env, Arg(info, 1), "name");
  int device = VfioIoctl(env, fd, VFIO_GROUP_GET_DEVICE_FD, name.data(), "VFIO_GROUP_GET_DEVICE_FD");
  fcntl(device, F_SETFD, FD_CLOEXEC);
  return Napi::Number::New(env, device);
}

// VFIO_DEVICE_GET_INFO: flags (RESET, PCI) and the number of regions and IRQ indexes.
Napi::Value DeviceGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "deviceFd");
  vfio_device_info dev{};
  dev.argsz = sizeof dev;
  VFIO_IOCTL(env, fd, VFIO_DEVICE_GET_INFO, &dev);
  Napi::Object out = Napi::Object::New(env);
  out.Set("flags", dev.flags);
  out.Set("numRegions", dev.num_regions);
  out.Set("numIrqs", dev.num_irqs);
  return out;
}

// VFIO_DEVICE_GET_REGION_INFO: where a region (BAR, ROM, config space) lives in the
// device fd, and its caps: SPARSE_MMAP (the mmappable parts, e.g. all but the MSI-X
// table), TYPE (device-specific regions), MSIX_MAPPABLE (the MSI-X table may be mmapped).
Napi::Value DeviceGetRegionInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "deviceFd");
  vfio_region_info init{};
  init.index = static_cast<uint32_t>(ToInt(env, Arg(info, 1), "index", 0, UINT32_MAX));
  auto buf = InfoWithCaps(env, fd, VFIO_DEVICE_GET_REGION_INFO, "VFIO_DEVICE_GET_REGION_INFO", &init, sizeof init);
  vfio_region_info reply;
  memcpy(&reply, buf.data(), sizeof reply);

  Napi::Object out = Napi::Object::New(env);
  out.Set("index", reply.index);
  out.Set("flags", reply.flags);
  out.Set("size", Big(env, reply.size));
  out.Set("offset", Big(env, reply.offset));
  bool msixMappable = false;
  if (reply.flags & VFIO_REGION_INFO_FLAG_CAPS) {
    ForEachCap(buf, reply.cap_offset, [&](const vfio_info_cap_header* h, size_t room) {
      if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP && room >= sizeof(vfio_region_info_cap_sparse_mmap)) {
        const auto* cap = reinterpret_cast<const vfio_region_info_cap_sparse_mmap*>(h);
        size_t fit = (room - sizeof *cap) / sizeof(vfio_region_sparse_mmap_area);
        Napi::Array areas = Napi::Array::New(env);
        for (uint32_t i = 0; i < cap->nr_areas && i < fit; i++) {
          Napi::Object a = Napi::Object::New(env);
          a.Set("offset", Big(env, cap->areas[i].offset));
          a.Set("size", Big(env, cap->areas[i].size));
          areas.Set(i, a);
        }
        out.Set("sparseMmap", areas);
      } else if (h->id == VFIO_REGION_INFO_CAP_TYPE && room >= sizeof(vfio_region_info_cap_type)) {
        const auto* cap = reinterpret_cast<const vfio_region_info_cap_type*>(h);
        Napi::Object t = Napi::Object::New(env);
        t.Set("type", cap->type);
        t.Set("subtype", cap->subtype);
        out.Set("type", t);
      } else if (h->id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
        msixMappable = true;
      }
    });
  }
  out.Set("msixMappable", msixMappable);
  return out;
}

// VFIO_DEVICE_GET_IRQ_INFO: how many vectors an IRQ index (INTx, MSI, MSI-X) has, and
// whether it takes eventfds, can be masked, is automasked (INTx).
Napi::Value DeviceGetIrqInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "deviceFd");
  vfio_irq_info irq{};
  irq.argsz = sizeof irq;
  irq.index = static_cast<uint32_t>(ToInt(env, Arg(info, 1), "index", 0, UINT32_MAX));
  VFIO_IOCTL(env, fd, VFIO_DEVICE_GET_IRQ_INFO, &irq);
  Napi::Object out = Napi::Object::New(env);
  out.Set("index", irq.index);
  out.Set("flags", irq.flags);
  out.Set("count", irq.count);
  return out;
}

// VFIO_DEVICE_SET_IRQS with DATA_EVENTFD|ACTION_TRIGGER: vector start+i signals
// eventfds[i] (-1 unwires it). An empty list sends DATA_NONE with count 0, which
// disables the whole index.
void DeviceSetIrqsEventfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "deviceFd");
  uint32_t index = static_cast<uint32_t>(ToInt(env, Arg(info, 1), "index", 0, UINT32_MAX));
  uint32_t start = static_cast<uint32_t>(ToInt(env, Arg(info, 2), "start", 0, UINT32_MAX));
  Napi::Value list = Arg(info, 3);
  if (!list.IsArray()) ThrowArg(env, kErrInvalidArg, "eventfds must be an array (got " + Describe(list) + ")");
  Napi::Array fds = list.As<Napi::Array>();
  constexpr uint32_t kMaxVectors = 2048;  // the MSI-X maximum (PCIe 7.7.2.2, Table Size)
  uint32_t count = fds.Length();
  if (count > kMaxVectors || uint64_t{start} + count > UINT32_MAX) {
    ThrowArg(env, kErrOutOfRange, "eventfds: too many vectors (" + std::to_string(count) + " from " +
                                      std::to_string(start) + ")");
  }
  std::vector<uint8_t> buf(sizeof(vfio_irq_set) + count * sizeof(int32_t), 0);
  auto* set = reinterpret_cast<vfio_irq_set*>(buf.data());
  set->argsz = static_cast<uint32_t>(buf.size());
  set->flags = (count ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) | VFIO_IRQ_SET_ACTION_TRIGGER;
  set->index = index;
  set->start = start;
  set->count = count;
  for (uint32_t i = 0; i < count; i++) {
    int32_t efd = static_cast<int32_t>(ToInt(env, fds.Get(i), "eventfds[i]", -1, INT32_MAX));
    memcpy(set->data + i * sizeof(int32_t), &efd, sizeof efd);
  }
  VFIO_IOCTL(env, fd, VFIO_DEVICE_SET_IRQS, set);
}

// VFIO_DEVICE_SET_IRQS with DATA_NONE: mask, unmask or trigger vectors [start, start+count).
void DeviceSetIrqs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "deviceFd");
  vfio_irq_set set{};
  set.argsz = sizeof set;
  set.index = static_cast<uint32_t>(ToInt(env, Arg(info, 1), "index", 0, UINT32_MAX));
  set.start = static_cast<uint32_t>(ToInt(env, Arg(info, 2), "start", 0, UINT32_MAX));
  set.count = static_cast<uint32_t>(ToInt(env, Arg(info, 3), "count", 0, UINT32_MAX - set.start));
  uint32_t action = static_cast<uint32_t>(ToInt(env, Arg(info, 4), "action", 0, UINT32_MAX));
  if (action != VFIO_IRQ_SET_ACTION_MASK && action != VFIO_IRQ_SET_ACTION_UNMASK &&
      action != VFIO_IRQ_SET_ACTION_TRIGGER) {
    ThrowArg(env, kErrInvalidArg, "action must be one of VFIO_IRQ_SET_ACTION_MASK, UNMASK, TRIGGER (got " +
                                      std::to_string(action) + ")");
  }
  set.flags = VFIO_IRQ_SET_DATA_NONE | action;
  VFIO_IOCTL(env, fd, VFIO_DEVICE_SET_IRQS, &set);
}

// VFIO_DEVICE_RESET: function-level (or other) reset, when DEVICE_FLAGS_RESET is set.
void DeviceReset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0), "deviceFd");
  VFIO_IOCTL(env, fd, VFIO_DEVICE_RESET, nullptr);
}

}  // namespace

void InitVfio(Napi::Env env, Napi::Object exports) {
  exports.Set("vfioGetApiVersion", Napi::Function::New<GetApiVersion>(env, "vfioGetApiVersion"));
  exports.Set("vfioCheckExtension", Napi::Function::New<CheckExtension>(env, "vfioCheckExtension"));
  exports.Set("vfioSetIommu", Napi::Function::New<SetIommu>(env, "vfioSetIommu"));
  exports.Set("vfioIommuGetInfo", Napi::Function::New<IommuGetInfo>(env, "vfioIommuGetInfo"));
  exports.Set("vfioGroupGetStatus", Napi::Function::New<GroupGetStatus>(env, "vfioGroupGetStatus"));
  exports.Set("vfioGroupSetContainer", Napi::Function::New<GroupSetContainer>(env, "vfioGroupSetContainer"));
  exports.Set("vfioGroupUnsetContainer", Napi::Function::New<GroupUnsetContainer>(env, "vfioGroupUnsetContainer"));
  exports.Set("vfioGroupGetDeviceFd", Napi::Function::New<GroupGetDeviceFd>(env, "vfioGroupGetDeviceFd"));
  exports.Set("vfioDeviceGetInfo", Napi::Function::New<DeviceGetInfo>(env, "vfioDeviceGetInfo"));
  exports.Set("vfioDeviceGetRegionInfo", Napi::Function::New<DeviceGetRegionInfo>(env, "vfioDeviceGetRegionInfo"));
  exports.Set("vfioDeviceGetIrqInfo", Napi::Function::New<DeviceGetIrqInfo>(env, "vfioDeviceGetIrqInfo"));
  exports.Set("vfioDeviceSetIrqsEventfd", Napi::Function::New<DeviceSetIrqsEventfd>(env, "vfioDeviceSetIrqsEventfd"));
  exports.Set("vfioDeviceSetIrqs", Napi::Function::New<DeviceSetIrqs>(env, "vfioDeviceSetIrqs"));
  exports.Set("vfioDeviceReset", Napi::Function::New<DeviceReset>(env, "vfioDeviceReset"));
}

}  // namespace vfio_node
