#pragma once
// The one way into Boost.Asio and Boost.Beast for the CLI. Boost 1.74's asio/awaitable.hpp uses
// std::exchange without including <utility>, which GCC 12 rejects unless <utility> comes first
// (STYLE.md §1).

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
