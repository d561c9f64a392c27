import Foundation
import SluiceCore

/// Where an upstream conda channel lives and how to reach it: the channel's base URL (the folder that holds the
/// subdirs, e.g. `https://repo.anaconda.com/pkgs/main`), optional HTTP Basic credentials, and a timeout.
///
/// Credentials are kept apart from the URL: ``baseURL`` never contains them (userinfo given in the URL is moved into
/// ``username``/``password``), they are sent only as an `Authorization` header to this upstream (the HTTP client drops
/// that header on a redirect to another origin), and ``displayURL`` (for messages and logs) also masks a
/// `/t/<token>/` path segment.
public struct UpstreamChannel: Sendable, Hashable, CustomStringConvertible {
    /// The channel URL without credentials and without a trailing `/`.
    public let baseURL: String
    /// The user name for HTTP Basic authentication, if the upstream is private.
    public let username: String?
    /// The password for HTTP Basic authentication.
    public let password: String?
    /// How long to wait for the upstream to start answering, and the longest pause allowed while a body streams.
    public let timeout: Duration

    /// Creates a channel description.
    ///
    /// - Parameters:
    ///   - baseURL: an absolute `http` or `https` URL; `user:password@` in it is moved into the credentials unless
    ///     `username` is given.
    ///   - timeout: how long the upstream may take to answer (default 30 s).
    /// - Throws: `SluiceError.invalidInput` when the URL is not an absolute http(s) URL with a host.
    public init(
        baseURL: String,
        username: String? = nil,
        password: String? = nil,
        timeout: Duration = .seconds(30)
    ) throws(SluiceError) {
        guard var components = URLComponents(string: baseURL.trimmingCharacters(in: .whitespaces)),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            throw .invalidInput(
                "Upstream URL '\(Self.redactingCredentials(in: baseURL))' is not an absolute http(s) URL with a host.")
        }
        guard components.query == nil, components.fragment == nil else {
            throw .invalidInput(
                "Upstream URL '\(Self.redactingCredentials(in: baseURL))' must not have a query or fragment.")
        }
        guard timeout > .zero else {
            throw .invalidInput("Upstream timeout must be positive.")
        }
        var user = username
        var secret = password
        if user == nil, let urlUser = components.user, !urlUser.isEmpty {
            user = components.user  // percent-decoded
            secret = components.password
        }
        components.user = nil
        components.password = nil
        components.scheme = scheme
        var url = components.string ?? baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.username = (user?.isEmpty ?? true) ? nil : user
        self.password = self.username == nil ? nil : secret
        self.timeout = timeout
    }

    /// The URL of a file in a subdir: `<baseURL>/<subdir>/<filename>`.
    public func url(subdir: String, filename: String) -> String {
        "\(baseURL)/\(subdir)/\(filename)"
    }

    /// ``baseURL`` safe to show in messages and logs (a `/t/<token>/` segment masked).
    public var displayURL: String { Self.redactingCredentials(in: baseURL) }

    /// Whether requests carry an `Authorization` header.
    public var hasCredentials: Bool { username != nil }

    /// The `Authorization` header value for HTTP Basic authentication, if credentials are set.
    var authorizationHeader: String? {
        guard let username else { return nil }
        return "Basic " + Data("\(username):\(password ?? "")".utf8).base64EncodedString()
    }

    public var description: String {
        hasCredentials ? "\(displayURL) (with credentials)" : displayURL
    }

    /// Removes `user:password@` and masks `/t/<token>/` in a URL string, for messages and logs.
    public static func redactingCredentials(in url: String) -> String {
        var result = url
        if let schemeEnd = result.range(of: "://") {
            let afterScheme = result[schemeEnd.upperBound...]
            let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? result.endIndex
            if let at = result[schemeEnd.upperBound..<authorityEnd].lastIndex(of: "@") {
                result.removeSubrange(schemeEnd.upperBound...at)
            }
        }
        if let tokenStart = result.range(of: "/t/") {
            let rest = result[tokenStart.upperBound...]
            let tokenEnd = rest.firstIndex(of: "/") ?? result.endIndex
            if tokenEnd > tokenStart.upperBound {
                result.replaceSubrange(tokenStart.upperBound..<tokenEnd, with: "***")
            }
        }
        return result
    }

    // Credentials take part in equality (a different password is a different channel) but never in descriptions.
}

extension UpstreamChannel: CustomDebugStringConvertible, CustomReflectable {
    public var debugDescription: String { "UpstreamChannel(\(description), timeout: \(timeout))" }

    /// Hides the password from `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "baseURL": displayURL, "username": username as Any, "password": password == nil ? "nil" : "***",
                "timeout": timeout,
            ], displayStyle: .struct)
    }
}
