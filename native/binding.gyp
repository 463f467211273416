{
  "targets": [
    {
      "target_name": "vfio_node",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/args.cc",
        "src/fd.cc",
        "src/vfio.cc",
        "src/mapping.cc",
        "src/sigbus.cc",
        "src/dma.cc",
        "src/user_dma.cc",
        "src/eventfd.cc",
        "src/nvme_queue.cc",
        "src/virtio_ring.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "cflags": ["-O2", "-Wall"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a native function that throws while its
      # worker is being stopped (worker.terminate(), process.exit()) returns instead of
      # aborting the process (napi_throw fails then; see node-addon-api's doc/setup.md).
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"]
    }
  ]
}
