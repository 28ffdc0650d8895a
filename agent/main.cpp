#include "agent/cli.h"

int main(int argc, char** argv) { return eca::run_cli(argc, argv); }
