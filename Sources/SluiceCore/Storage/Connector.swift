import Foundation

/// A connector: a named link to an upstream conda channel (another Sluice, anaconda.org, repo.anaconda.com, …) that
/// proxy feeds draw packages from, in ProGet's connector shape.
///
/// Managed by `POST /api/management/connectors/create|update` and friends; a feed lists the connectors it proxies in
/// ``Feed/connectors``. Stored by ``MetadataStore/createConnector(_:)``.
///
/// **Credentials.** ``username`` and ``password`` are kept (in clear, in the database) only so that Sluice can
/// authenticate to the upstream. The password must never be logged, never be sent anywhere but to that upstream, and
/// never be returned by the API. To make that hard to get wrong, ``description`` and the mirror used by `dump` mask
/// it (string interpolation uses `debugDescription`), and `Encodable` leaves it out (decoding accepts it, so a create request can carry it).
public struct Connector: Hashable, Sendable {
    /// The connector's name: lowercase `[a-z0-9._-]`, the same rules as a feed name.
    public var name: String
    /// The package type; always `conda` (ProGet's `feedType`).
    public var feedType: String
    /// The upstream channel's base URL, the folder that holds the subdirs (e.g. `https://repo.anaconda.com/pkgs/main`):
    /// absolute `http` or `https`, with no credentials, query or fragment.
    public var url: String
    public var description: String
    /// Seconds to wait for the upstream to answer (and the longest pause while a body streams).
    public var timeout: Int
    /// Whether upstream repodata is kept for ``metadataCacheMinutes`` before it is revalidated.
    public var metadataCacheEnabled: Bool
    /// How long upstream repodata counts as fresh, in minutes.
    public var metadataCacheMinutes: Int
    /// The user name for HTTP Basic authentication to a private upstream.
    public var username: String?
    /// The password for HTTP Basic authentication to a private upstream. Never logged, never returned by the API, never
    /// sent anywhere but to this upstream; not written by `Encodable`.
    public var password: String?
    /// Package name patterns in ProGet's style: `*` any run of characters, `?` one character, a leading `!` blocks.
    /// Empty lets every package through.
    public var filters: [String]
    public var createdAt: Date

    /// The default ``timeout``, in seconds.
    public static let defaultTimeout = 30
    /// The default ``metadataCacheMinutes``.
    public static let defaultMetadataCacheMinutes = 30

    /// Creates a connector; call ``validate()`` before storing one built from user input.
    public init(
        name: String, url: String, feedType: String = "conda", description: String = "",
        timeout: Int = Connector.defaultTimeout, metadataCacheEnabled: Bool = true,
        metadataCacheMinutes: Int = Connector.defaultMetadataCacheMinutes, username: String? = nil,
        password: String? = nil, filters: [String] = [], createdAt: Date = Date()
    ) {
        self.name = name
        self.feedType = feedType
        self.url = url
        self.description = description
        self.timeout = timeout
        self.metadataCacheEnabled = metadataCacheEnabled
        self.metadataCacheMinutes = metadataCacheMinutes
        self.username = username
        self.password = password
        self.filters = filters
        self.createdAt = createdAt
    }

    /// Checks every field a user can set:
    /// - the name follows the feed-name rules (``ChannelNames/validateFeedName(_:)``);
    /// - `feedType` is `conda`;
    /// - `url` is an absolute `http`/`https` URL with a host and no user info, query or fragment (credentials go in
    ///   ``username``/``password``, so that the URL can be shown);
    /// - `timeout` is 1…3600 seconds and `metadataCacheMinutes` 0…525600 (a year);
    /// - a password comes with a user name;
    /// - each filter is a non-empty pattern without whitespace or `/`, with `!` only as its first character.
    /// - Throws: `SluiceError.invalidInput` saying what is wrong (never quoting the password).
    public func validate() throws(SluiceError) {
        do {
            try ChannelNames.validateFeedName(name)
        } catch {
            var renamed = error
            renamed.message = error.message.replacingOccurrences(of: "Feed name", with: "Connector name")
            throw renamed
        }
        guard feedType == "conda" else {
            throw .invalidInput("feedType '\(feedType)' is not supported; connectors serve 'conda' channels only.")
        }
        try Self.validateURL(url)
        guard (1...3600).contains(timeout) else {
            throw .invalidInput("Connector timeout must be between 1 and 3600 seconds (got \(timeout)).")
        }
        guard (0...525_600).contains(metadataCacheMinutes) else {
            throw .invalidInput(
                "metadataCacheMinutes must be between 0 and 525600 (a year); got \(metadataCacheMinutes).")
        }
        if password != nil, username?.isEmpty ?? true {
            throw .invalidInput("A connector password needs a username.")
        }
        if let username, username.isEmpty || username.contains(":") {
            throw .invalidInput("A connector username must not be empty or contain ':'.")
        }
        for filter in filters {
            let body = filter.hasPrefix("!") ? filter.dropFirst() : Substring(filter)
            guard !body.isEmpty else {
                throw .invalidInput(
                    "Connector filter '\(filter)' is empty; write a name pattern such as 'numpy*' or '!evil-*'.")
            }
            guard !body.utf8.contains(where: { $0 <= 0x20 || $0 == 0x2F || $0 == 0x21 || $0 == 0x7F }) else {
                throw .invalidInput(
                    "Connector filter '\(filter)' may not contain spaces, '/' or a '!' after the first character.")
            }
        }
    }

    private static func validateURL(_ url: String) throws(SluiceError) {
        guard let components = URLComponents(string: url),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            throw .invalidInput("Connector URL must be an absolute http or https URL with a host.")
        }
        guard components.user == nil, components.password == nil else {
            // The URL is not quoted: it holds the credentials.
            throw .invalidInput(
                "Connector URL must not contain credentials; put them in 'username' and 'password' instead.")
        }
        guard components.query == nil, components.fragment == nil else {
            throw .invalidInput("Connector URL '\(url)' must not have a query or fragment.")
        }
    }
}

extension Connector: Codable {
    private enum CodingKeys: String, CodingKey {
        case name, feedType, url, description, timeout, metadataCacheEnabled, metadataCacheMinutes, username, password
        case filters, createdAt
    }

    /// Decodes a connector; every field but `name` and `url` may be absent and takes its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try container.decode(String.self, forKey: .name),
            url: try container.decode(String.self, forKey: .url),
            feedType: try container.decodeIfPresent(String.self, forKey: .feedType) ?? "conda",
            description: try container.decodeIfPresent(String.self, forKey: .description) ?? "",
            timeout: try container.decodeIfPresent(Int.self, forKey: .timeout) ?? Self.defaultTimeout,
            metadataCacheEnabled: try container.decodeIfPresent(Bool.self, forKey: .metadataCacheEnabled) ?? true,
            metadataCacheMinutes: try container.decodeIfPresent(Int.self, forKey: .metadataCacheMinutes)
                ?? Self.defaultMetadataCacheMinutes,
            username: try container.decodeIfPresent(String.self, forKey: .username),
            password: try container.decodeIfPresent(String.self, forKey: .password),
            filters: try container.decodeIfPresent([String].self, forKey: .filters) ?? [],
            createdAt: try container.decodeIfPresent(Date.self, forKey: .createdAt) ?? Date()
        )
    }

    /// Encodes every field except ``password``, which is never written out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(feedType, forKey: .feedType)
        try container.encode(url, forKey: .url)
        try container.encode(description, forKey: .description)
        try container.encode(timeout, forKey: .timeout)
        try container.encode(metadataCacheEnabled, forKey: .metadataCacheEnabled)
        try container.encode(metadataCacheMinutes, forKey: .metadataCacheMinutes)
        try container.encodeIfPresent(username, forKey: .username)
        try container.encode(filters, forKey: .filters)
        try container.encode(createdAt, forKey: .createdAt)
    }
}

// Not `CustomStringConvertible`: ``description`` is the connector's own description field. String interpolation and
// `String(describing:)` fall back to `debugDescription`, which masks the password.
extension Connector: CustomDebugStringConvertible, CustomReflectable {
    /// The connector for logs, messages and string interpolation: the password masked.
    public var debugDescription: String {
        "Connector(name: \(name), url: \(url), username: \(username ?? "-"), password: "
            + "\(password == nil ? "-" : "<redacted>"), filters: \(filters))"
    }

    /// A mirror for `dump` and debuggers with the password masked.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "name": name, "feedType": feedType, "url": url, "description": description, "timeout": timeout,
                "metadataCacheEnabled": metadataCacheEnabled, "metadataCacheMinutes": metadataCacheMinutes,
                "username": username as Any, "password": (password == nil ? "-" : "<redacted>") as Any,
                "filters": filters, "createdAt": createdAt,
            ],
            displayStyle: .struct)
    }
}
