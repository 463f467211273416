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
        "src/eventfd.cc",
        "src/nvme_queue.cc",
        "src/virtio_ring.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "cflags": ["-O2", "-Wall"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
