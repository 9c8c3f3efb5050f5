#include "app/app.h"

int main(int argc, char** argv) { return otedama::app::run_cli(argc, argv); }
