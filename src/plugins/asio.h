#pragma once
// The one way into Boost.Asio for the plug-in host. Boost 1.74's asio/awaitable.hpp uses
// std::exchange without including <utility>, which GCC 12 rejects unless <utility> comes first
// (STYLE.md §1).

#include <utility>

#include <boost/asio.hpp>
