# Writes OUT (a header with SG_GIT_COMMIT) from the source tree's git HEAD, at every build, so a
# binary never reports the commit it was configured at. "-dirty" marks uncommitted changes.
# The file is rewritten only when the text changes, so an unchanged commit rebuilds nothing.
set(commit "unknown")
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY "${SRC}"
                OUTPUT_VARIABLE head OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(rc EQUAL 0 AND NOT head STREQUAL "")
  set(commit "${head}")
  execute_process(COMMAND git diff --quiet HEAD WORKING_DIRECTORY "${SRC}" RESULT_VARIABLE dirty
                  OUTPUT_QUIET ERROR_QUIET)
  if(NOT dirty EQUAL 0)
    set(commit "${commit}-dirty")
  endif()
endif()
file(WRITE "${OUT}.tmp" "/* Generated at build time by scripts/git_commit.cmake. */\n#pragma once\n#define SG_GIT_COMMIT \"${commit}\"\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
