import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

extension UpstreamClient {
    /// The `HTTPClient` configuration Sluice uses for upstream channels.
    ///
    /// AsyncHTTPClient's default pool retries a failed connect with exponential backoff until the request's deadline
    /// (`retryConnectionEstablishment`), so an upstream that refuses connections (a closed port) was reported only
    /// when the channel timeout (30 s) ran out, as a timeout. Here a failed connect fails the waiting request at once
    /// (`upstreamUnavailable`, a prompt 502); a connect that hangs still gives up after `connectTimeout`, and an
    /// upstream that accepts the connection but answers slowly still gets the channel's full timeout (the per-request
    /// deadline). Redirects are followed (AsyncHTTPClient drops `Authorization` when a redirect leaves the origin).
    /// - Parameter connectTimeout: how long establishing one TCP (+TLS) connection may take (default 10 s).
    public static func httpClientConfiguration(connectTimeout: Duration = .seconds(10)) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: .nanoseconds(connectTimeout.nanoseconds)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// A new `HTTPClient` for upstream channels with ``httpClientConfiguration(connectTimeout:)`` on the shared event
    /// loop group. The caller shuts it down (`shutdown()`).
    public static func makeHTTPClient(connectTimeout: Duration = .seconds(10)) -> HTTPClient {
        HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: httpClientConfiguration(connectTimeout: connectTimeout))
    }
}

extension UpstreamClient {
    /// Whether a connect failed because the upstream refused it (`ECONNREFUSED`), directly or as one of the
    /// attempts of NIO's happy-eyeballs connect.
    static func isConnectionRefused(_ error: any Error) -> Bool {
        if let error = error as? IOError {
            return error.errnoCode == ECONNREFUSED
        }
        // NIO's happy-eyeballs connect reports one error per address it tried.
        if let error = error as? NIOConnectionError {
            return !error.connectionErrors.isEmpty
                && error.connectionErrors.allSatisfy { isConnectionRefused($0.error) }
        }
        return false
    }
}
