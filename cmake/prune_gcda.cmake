cmake_policy(SET CMP0009 NEW) # GLOB_RECURSE does not follow symlinks
# Removes the .gcda files that are older than their .gcno (run after a
# coverage build, scripts: cmake -DDIR=... -P prune_gcda.cmake). A .gcda left
# from before an object was recompiled makes every instrumented program that
# exits print libgcov's "overwriting an existing profile data with a
# different checksum" on stderr: the shim in a program's stderr.
file(GLOB_RECURSE gcdas "${DIR}/*.gcda")
foreach(gcda IN LISTS gcdas)
  string(REGEX REPLACE "\\.gcda$" ".gcno" gcno "${gcda}")
  if(NOT EXISTS "${gcno}" OR "${gcno}" IS_NEWER_THAN "${gcda}")
    file(REMOVE "${gcda}")
  endif()
endforeach()
