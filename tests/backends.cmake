# Tests that run once per backend (tests/test_backend.h): the executable takes the backend name
# as its first argument. `staged` runs the CPU kernels behind the device-memory protocol, so CI
# checks the GPU's code paths without a GPU; `cuda` reports itself skipped (exit 77, with the
# reason) where there is no device or no CUDA build.
function(sg_backend_test group name exe backend)
  add_test(NAME ${group}.${name} COMMAND ${exe} ${backend})
  set_tests_properties(${group}.${name} PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "SG_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp;SG_SOURCE_DIR=${CMAKE_SOURCE_DIR};OMP_WAIT_POLICY=passive")
endfunction()

# The PyTorch fixtures of the training engine (the cpu run is ssl.pytorch_fixtures).
sg_backend_test(staged pytorch_fixtures test_pytorch_fixtures staged)
sg_backend_test(cuda pytorch_fixtures test_pytorch_fixtures cuda)

# Gradient accumulation against the larger batch and PyTorch (the cpu run is ssl.accumulate).
sg_backend_test(staged accumulate test_accumulate staged)
sg_backend_test(cuda accumulate test_accumulate cuda)

# Every kernel against the double references (the cpu run is kernels.backend_parity).
sg_backend_test(staged backend_parity test_backend_parity staged)
sg_backend_test(cuda backend_parity test_backend_parity cuda)

# Determinism of training steps, and agreement with the CPU backend (cpu: ssl.backend_determinism).
sg_backend_test(staged backend_determinism test_backend_determinism staged)
sg_backend_test(cuda backend_determinism test_backend_determinism cuda)

# Step graphs against the eager steps (the cpu run is ssl.step_graph): over the replaying
# backend on each, and on cuda CUDA's own graphs too.
sg_backend_test(staged step_graph test_step_graph staged)
sg_backend_test(cuda step_graph test_step_graph cuda)

# A batch of augmented views against the same backend's single-image ops, bit for bit (the cpu
# run is kernels.aug_views).
sg_backend_test(staged aug_views test_aug_views staged)
sg_backend_test(cuda aug_views test_aug_views cuda)
