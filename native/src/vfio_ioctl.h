// One VFIO ioctl, retried on EINTR; a failure throws "<NAME> on fd <n> failed: <strerror>"
// with code = errno name and syscall = the ioctl's name.
#pragma once

#include <napi.h>

namespace vfio_node {

int VfioIoctl(Napi::Env env, int fd, unsigned long request, void* arg, const char* name);

// VFIO_IOCTL(env, fd, VFIO_GROUP_GET_STATUS, &status): the ioctl's name comes from the macro.
#define VFIO_IOCTL(env, fd, request, arg) ::vfio_node::VfioIoctl((env), (fd), (request), (arg), #request)

}  // namespace vfio_node
