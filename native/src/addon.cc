// Entry point of the vfio-node native core: one exports object per environment (main
// thread, each worker), with the per-environment AddonData as N-API instance data.
#include "addon.h"
#include "nvme_queue.h"
#include "virtio_ring.h"

#include <fcntl.h>
#include <linux/vfio.h>
#include <unistd.h>

namespace vfio_node {

AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

namespace {

// The O_* and VFIO numbers this addon was built with (<fcntl.h>, <linux/vfio.h>).
Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define CONSTANT(name) c.Set(#name, Napi::Number::New(env, static_cast<double>(name)))
  CONSTANT(O_RDONLY);
  CONSTANT(O_WRONLY);
  CONSTANT(O_RDWR);
  CONSTANT(VFIO_API_VERSION);
  CONSTANT(VFIO_TYPE1_IOMMU);
  CONSTANT(VFIO_TYPE1v2_IOMMU);
  CONSTANT(VFIO_NOIOMMU_IOMMU);
  CONSTANT(VFIO_PCI_BAR0_REGION_INDEX);
  CONSTANT(VFIO_PCI_BAR1_REGION_INDEX);
  CONSTANT(VFIO_PCI_BAR2_REGION_INDEX);
  CONSTANT(VFIO_PCI_BAR3_REGION_INDEX);
  CONSTANT(VFIO_PCI_BAR4_REGION_INDEX);
  CONSTANT(VFIO_PCI_BAR5_REGION_INDEX);
  CONSTANT(VFIO_PCI_ROM_REGION_INDEX);
  CONSTANT(VFIO_PCI_CONFIG_REGION_INDEX);
  CONSTANT(VFIO_PCI_VGA_REGION_INDEX);
  CONSTANT(VFIO_PCI_NUM_REGIONS);
  CONSTANT(VFIO_PCI_INTX_IRQ_INDEX);
  CONSTANT(VFIO_PCI_MSI_IRQ_INDEX);
  CONSTANT(VFIO_PCI_MSIX_IRQ_INDEX);
  CONSTANT(VFIO_PCI_ERR_IRQ_INDEX);
  CONSTANT(VFIO_PCI_REQ_IRQ_INDEX);
  CONSTANT(VFIO_PCI_NUM_IRQS);
  CONSTANT(VFIO_GROUP_FLAGS_VIABLE);
  CONSTANT(VFIO_GROUP_FLAGS_CONTAINER_SET);
  CONSTANT(VFIO_DEVICE_FLAGS_RESET);
  CONSTANT(VFIO_DEVICE_FLAGS_PCI);
  CONSTANT(VFIO_REGION_INFO_FLAG_READ);
  CONSTANT(VFIO_REGION_INFO_FLAG_WRITE);
  CONSTANT(VFIO_REGION_INFO_FLAG_MMAP);
  CONSTANT(VFIO_REGION_INFO_FLAG_CAPS);
  CONSTANT(VFIO_IRQ_INFO_EVENTFD);
  CONSTANT(VFIO_IRQ_INFO_MASKABLE);
  CONSTANT(VFIO_IRQ_INFO_AUTOMASKED);
  CONSTANT(VFIO_IRQ_INFO_NORESIZE);
  CONSTANT(VFIO_IRQ_SET_DATA_NONE);
  CONSTANT(VFIO_IRQ_SET_DATA_BOOL);
  CONSTANT(VFIO_IRQ_SET_DATA_EVENTFD);
  CONSTANT(VFIO_IRQ_SET_ACTION_MASK);
  CONSTANT(VFIO_IRQ_SET_ACTION_UNMASK);
  CONSTANT(VFIO_IRQ_SET_ACTION_TRIGGER);
  CONSTANT(VFIO_IOMMU_INFO_PGSIZES);
  CONSTANT(VFIO_IOMMU_INFO_CAPS);
#undef CONSTANT
  return c;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());  // deleted by N-API when the environment goes
  InitErrors(env, exports);
  InitFd(env, exports);
  InitVfio(env, exports);
  InitMapping(env, exports);
  InitDma(env, exports);
  InitUserDma(env, exports);
  InitEventfd(env, exports);
  InitNvmeQueue(env, exports);
  InitVirtioRing(env, exports);

  Napi::Object constants = Constants(env);
  Napi::Object object = env.Global().Get("Object").As<Napi::Object>();
  object.Get("freeze").As<Napi::Function>().Call(object, {constants});
  exports.Set("constants", constants);
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(sysconf(_SC_PAGESIZE))));
  return exports;
}

}  // namespace vfio_node

static Napi::Object InitVfioNode(Napi::Env env, Napi::Object exports) { return vfio_node::Init(env, exports); }
NODE_API_MODULE(vfio_node, InitVfioNode)
