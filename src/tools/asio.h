#pragma once
// The one way into Boost.Asio and Boost.Beast for the CLI (see src/protocol/http/asio.h for
// why <utility> comes first).

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
