# tests/fuzz/fuzz.cmake: the fuzz targets, one per reader and parser (tests/fuzz/fuzz.h).
# Every build replays each target's corpus, tests/fuzz/corpus/NAME/ (seeds and the inputs of
# every crash found), as the ctest fuzz.NAME through tests/fuzz/replay.c; with -DSG_FUZZ=ON
# (clang) each target is also a libFuzzer executable fuzz_NAME, which scripts/fuzz.sh builds and
# runs. fuzz_make_corpus writes the seeds (scripts/fuzz.sh --seeds).
set(SG_FUZZ_TARGETS stl10 cifar idx jpeg config suite bench csv compare report check checkpoint)
set(SG_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
foreach(t ${SG_FUZZ_TARGETS})
  add_executable(fuzz_replay_${t} ${SG_FUZZ_DIR}/fuzz_${t}.c ${SG_FUZZ_DIR}/replay.c)
  add_test(NAME fuzz.${t} COMMAND fuzz_replay_${t} ${SG_FUZZ_DIR}/corpus/${t})
  set_tests_properties(fuzz.${t} PROPERTIES ENVIRONMENT "OMP_WAIT_POLICY=passive")
  set(exes fuzz_replay_${t})
  if(SG_FUZZ)
    add_executable(fuzz_${t} ${SG_FUZZ_DIR}/fuzz_${t}.c)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    list(APPEND exes fuzz_${t})
  endif()
  foreach(exe ${exes})
    target_include_directories(${exe} PRIVATE ${CMAKE_SOURCE_DIR}/tests ${SG_FUZZ_DIR})
    target_compile_definitions(${exe} PRIVATE SG_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
    target_link_libraries(${exe} PRIVATE ${SG_ALL_LIBS})
  endforeach()
endforeach()
add_executable(fuzz_make_corpus ${SG_FUZZ_DIR}/make_corpus.c)
target_compile_definitions(fuzz_make_corpus PRIVATE SG_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
target_link_libraries(fuzz_make_corpus PRIVATE ${SG_ALL_LIBS})
