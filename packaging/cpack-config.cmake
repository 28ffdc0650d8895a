# CPACK_PROJECT_CONFIG_FILE: cpack reads this once per generator, with
# CPACK_GENERATOR set to the one about to run. The install rules of
# packaging.cmake read ECA_PKG_FLAVOUR to install the files of that format.
if(CPACK_GENERATOR STREQUAL "DEB")
  set(ENV{ECA_PKG_FLAVOUR} deb)
elseif(CPACK_GENERATOR STREQUAL "RPM")
  set(ENV{ECA_PKG_FLAVOUR} rpm)
else()
  message(FATAL_ERROR "eca-rotator is packaged with the DEB and RPM generators only, not ${CPACK_GENERATOR}")
endif()
