{
  "targets": [
    {
      "target_name": "ddp_blas",
      "sources": ["native/blas.c", "native/gemm.c"],
      "cflags": ["-O3", "-ffp-contract=off"],
      "libraries": ["-ldl", "-lm"]
    }
  ]
}
