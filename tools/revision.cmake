# revision.cmake — writes OUT (revision.h) with the git revision of SRC, at
# every build, touching it only when the revision changes (so a build
# without a new commit recompiles nothing):
#   #define TAPFLOW_REVISION "1a2b3c4d5e6f" ("-dirty" after it when the work
#   tree has uncommitted changes; "unknown" outside a git checkout).
execute_process(COMMAND git -C "${SRC}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE rc ERROR_QUIET)
if(NOT rc EQUAL 0 OR rev STREQUAL "")
  set(rev "unknown")
else()
  execute_process(COMMAND git -C "${SRC}" status --porcelain --untracked-files=no
                  OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT changes STREQUAL "")
    set(rev "${rev}-dirty")
  endif()
endif()
set(text "#define TAPFLOW_REVISION \"${rev}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
