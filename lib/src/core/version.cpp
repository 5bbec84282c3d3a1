#include "ganaug/version.hpp"

namespace ganaug {

const char* version() { return GANAUG_VERSION_STRING; }

}  // namespace ganaug
