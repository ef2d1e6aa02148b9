{
  "targets": [
    {
      "target_name": "ddp_blas",
      "sources": ["native/blas.c"],
      "cflags": ["-O2"],
      "libraries": ["-ldl"]
    }
  ]
}
