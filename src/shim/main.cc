#include "shim/shim.h"
int main(int argc, char** argv) { return bd::shim::Main(argc, argv); }
