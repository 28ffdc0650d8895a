# CPACK_PROJECT_CONFIG_FILE: cpack reads this once per generator, with
# CPACK_GENERATOR set to the one about to run. The install rules of
# packaging.cmake read ECA_PKG_FLAVOUR to install the files of that format.
# A plain `cpack` runs this too: name the Debian package of a missing tool.
if(CPACK_GENERATOR STREQUAL "DEB")
  set(ENV{ECA_PKG_FLAVOUR} deb)
  find_program(_eca_shlibdeps dpkg-shlibdeps)
  if(NOT _eca_shlibdeps)
    message(FATAL_ERROR "the .deb needs dpkg-shlibdeps: apt-get install dpkg-dev file")
  endif()
elseif(CPACK_GENERATOR STREQUAL "RPM")
  set(ENV{ECA_PKG_FLAVOUR} rpm)
  find_program(_eca_rpmbuild rpmbuild)
  if(NOT _eca_rpmbuild)
    message(FATAL_ERROR "the .rpm needs rpmbuild: apt-get install rpm file")
  endif()
else()
  message(FATAL_ERROR "eca-rotator is packaged with the DEB and RPM generators only, not ${CPACK_GENERATOR}")
endif()
