// The state database schema, as ordered migrations. Append new migrations; never edit one
// that has shipped.
#pragma once

#include <vector>

#include "store/db.h"

namespace bd::engine {

// state.db: images, containers, volumes, capsules, events.
const std::vector<store::Migration>& Migrations();

}  // namespace bd::engine
