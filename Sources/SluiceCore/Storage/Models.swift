import Foundation

/// A feed: a named conda channel served under `/conda/<name>/`.
///
/// A feed holds uploaded packages, and proxies the upstream channels of its ``connectors`` when it has any (a feed
/// with connectors is a proxy feed; it may hold local packages too, which shadow upstream files of the same name).
public struct Feed: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, Codable {
        /// Holds packages that people upload.
        case hosted
        /// Mirrors one or more upstream channels through ``Feed/connectors``.
        case proxy
    }

    public var name: String
    /// The package type; always `conda` for now (ProGet's `feedType`).
    public var feedType: String
    public var kind: Kind
    public var description: String
    public var active: Bool
    public var createdAt: Date
    /// The names of the ``Connector``s this feed proxies, in priority order: with several connectors, the first one
    /// that has a filename wins. Each must exist when the feed is stored (``MetadataStore/createFeed(_:)`` and
    /// ``MetadataStore/updateFeed(_:)`` throw `.notFound` otherwise); no name twice.
    public var connectors: [String]

    public init(
        name: String, feedType: String = "conda", kind: Kind = .hosted, description: String = "",
        active: Bool = true, createdAt: Date = Date(), connectors: [String] = []
    ) {
        self.name = name
        self.feedType = feedType
        self.kind = kind
        self.description = description
        self.active = active
        self.createdAt = createdAt
        self.connectors = connectors
    }
}

extension Feed: Codable {
    private enum CodingKeys: String, CodingKey {
        case name, feedType, kind, description, active, createdAt, connectors
    }

    /// Decodes a feed; `connectors` may be absent (as in feeds written before connectors existed) and means none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try container.decode(String.self, forKey: .name),
            feedType: try container.decode(String.self, forKey: .feedType),
            kind: try container.decode(Kind.self, forKey: .kind),
            description: try container.decode(String.self, forKey: .description),
            active: try container.decode(Bool.self, forKey: .active),
            createdAt: try container.decode(Date.self, forKey: .createdAt),
            connectors: try container.decodeIfPresent([String].self, forKey: .connectors) ?? []
        )
    }
}

/// A package file held by a feed: its repodata record plus where its bytes are.
public struct StoredPackage: Hashable, Sendable {
    public var feed: String
    public var subdir: String
    public var filename: String
    public var name: String
    public var version: String
    public var build: String
    /// The content address of the file's bytes in the ``BlobStore``.
    public var sha256: String
    public var md5: String
    public var size: Int64
    /// The repodata record, exactly as it is published.
    public var record: PackageRecord
    /// Per-name channel data collected from the package (`info/about.json`, `run_exports`), for `channeldata.json`.
    public var channelData: [String: JSONValue]
    public var uploadedAt: Date
    /// Who uploaded it (a user name), if known.
    public var uploadedBy: String?

    public init(
        feed: String, subdir: String, record: PackageRecord, channelData: [String: JSONValue] = [:],
        uploadedAt: Date = Date(), uploadedBy: String? = nil
    ) {
        self.feed = feed
        self.subdir = subdir
        self.filename = record.filename
        self.name = record.name
        self.version = record.version
        self.build = record.build
        self.sha256 = record.sha256
        self.md5 = record.md5
        self.size = record.size
        self.record = record
        self.channelData = channelData
        self.uploadedAt = uploadedAt
        self.uploadedBy = uploadedBy
    }
}

/// What ``MetadataStore/addPackage(_:overwrite:)`` did.
public enum AddPackageOutcome: Hashable, Sendable {
    /// The file was new to the feed.
    case added
    /// The feed already had this file name with the same sha256; nothing changed.
    case unchanged
    /// The feed had this file name with other bytes and `overwrite` was set; the row now points at the new bytes.
    case replaced(previousSHA256: String)
}

/// A built-in user account.
public struct User: Hashable, Sendable {
    public var name: String
    public var displayName: String
    public var email: String
    /// A password hash (bcrypt); never the password.
    public var passwordHash: String
    public var createdAt: Date

    public init(
        name: String, displayName: String = "", email: String = "", passwordHash: String, createdAt: Date = Date()
    ) {
        self.name = name
        self.displayName = displayName
        self.email = email
        self.passwordHash = passwordHash
        self.createdAt = createdAt
    }
}
