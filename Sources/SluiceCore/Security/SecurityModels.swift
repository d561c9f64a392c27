import Foundation

/// What a permission grants or a restriction denies (ProGet's "tasks").
///
/// ``administer`` implies every other task: a grant of it allows everything in its scope, a restriction of it denies
/// everything in its scope.
public enum SecurityTask: String, CaseIterable, Hashable, Sendable, Codable {
    /// Read repodata and download package files (`/conda/**`, package listings).
    case viewDownload = "view"
    /// Upload packages into a feed.
    case publishPackages = "publish"
    /// Promote packages out of a feed: checked on the source feed of a promotion (as in ProGet, where a group gets
    /// Promote Packages on `unapproved-conda`).
    case promotePackages = "promote"
    /// Delete packages from a feed.
    case deletePackages = "delete"
    /// Change a feed's settings and its connectors.
    case manageFeed = "manage-feed"
    /// Everything, including security (users, groups, permissions, API keys) and creating feeds and connectors.
    case administer = "administer"

    /// The name shown to people ("View & Download", ...).
    public var displayName: String {
        switch self {
        case .viewDownload: "View & Download"
        case .publishPackages: "Publish Packages"
        case .promotePackages: "Promote Packages"
        case .deletePackages: "Delete Packages"
        case .manageFeed: "Manage Feed"
        case .administer: "Administer"
        }
    }
}

/// Who a permission or restriction applies to.
public enum Principal: Hashable, Sendable {
    /// One built-in user (names compare case-insensitively).
    case user(String)
    /// Every member of a group (names compare case-insensitively).
    case group(String)
    /// Requests without credentials.
    case anonymous
    /// Every signed-in user (not API keys of kind feed or system).
    case authenticated
    /// Everyone, signed in or not.
    case everyone
}

extension Principal: Codable {
    /// Encoded as `{"kind": "user"|"group"|"anonymous"|"authenticated"|"everyone", "name": "..."}` (`name` only for
    /// users and groups).
    private enum CodingKeys: String, CodingKey { case kind, name }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encodeIfPresent(name, forKey: .name)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        let name = try container.decodeIfPresent(String.self, forKey: .name)
        guard let principal = Principal(kind: kind, name: name) else {
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: container,
                debugDescription:
                    "A principal is {\"kind\": \"user\"|\"group\", \"name\": ...} or {\"kind\": \"anonymous\"|\"authenticated\"|\"everyone\"}."
            )
        }
        self = principal
    }

    /// `user`, `group`, `anonymous`, `authenticated` or `everyone`.
    public var kind: String {
        switch self {
        case .user: "user"
        case .group: "group"
        case .anonymous: "anonymous"
        case .authenticated: "authenticated"
        case .everyone: "everyone"
        }
    }

    /// The user or group name; nil for the virtual principals.
    public var name: String? {
        switch self {
        case .user(let name), .group(let name): name
        case .anonymous, .authenticated, .everyone: nil
        }
    }

    /// Builds a principal from its ``kind`` and ``name``; nil when they do not fit together.
    public init?(kind: String, name: String?) {
        switch (kind.lowercased(), name) {
        case ("user", .some(let name)) where !name.isEmpty: self = .user(name)
        case ("group", .some(let name)) where !name.isEmpty: self = .group(name)
        case ("anonymous", _): self = .anonymous
        case ("authenticated", _): self = .authenticated
        case ("everyone", _): self = .everyone
        default: return nil
        }
    }
}

/// A permission (grant) or a restriction (deny) of one task to one principal, on one feed or on all feeds.
public struct Privilege: Hashable, Sendable, Codable {
    /// Assigned by the store (``SecurityStore/addPrivilege(_:)``); 0 before that.
    public var id: Int64
    public var principal: Principal
    public var task: SecurityTask
    /// The feed it is scoped to; nil means every feed (and the management APIs, for ``SecurityTask/administer``).
    public var feed: String?
    /// A restriction denies the task and beats any grant.
    public var isRestriction: Bool
    public var createdAt: Date
    /// The user (or key display name) who created it.
    public var createdBy: String?

    public init(
        id: Int64 = 0, principal: Principal, task: SecurityTask, feed: String? = nil, isRestriction: Bool = false,
        createdAt: Date = Date(), createdBy: String? = nil
    ) {
        self.id = id
        self.principal = principal
        self.task = task
        self.feed = feed
        self.isRestriction = isRestriction
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// A named group of users.
public struct UserGroup: Hashable, Sendable, Codable {
    public var name: String
    public var description: String
    /// Member user names (as stored; compare case-insensitively).
    public var members: [String]
    public var createdAt: Date

    public init(name: String, description: String = "", members: [String] = [], createdAt: Date = Date()) {
        self.name = name
        self.description = description
        self.members = members
        self.createdAt = createdAt
    }
}

/// An API key. Only the sha256 of the key text is stored (``keyHash``); the text is shown once, at creation.
public struct APIKey: Hashable, Sendable, Codable {
    /// The three kinds of key.
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// Bound to ``APIKey/feeds`` with exactly ``APIKey/tasks`` (any of view, publish, promote, delete).
        case feed
        /// Acts as ``APIKey/userName`` with that user's permissions.
        case personal
        /// Administers everything (the management APIs and every feed).
        case system
    }

    /// Assigned by the store; 0 before that.
    public var id: Int64
    public var kind: Kind
    public var displayName: String
    public var description: String
    /// Lowercase hex sha256 of the key text.
    public var keyHash: String
    /// Feed keys: the feeds it opens (at least one). Empty for other kinds.
    public var feeds: [String]
    /// Feed keys: the tasks it grants on ``feeds`` (subset of view, publish, promote, delete). Empty for other kinds.
    public var tasks: [SecurityTask]
    /// Personal keys: the user it acts as. Nil for other kinds.
    public var userName: String?
    /// After this instant the key is refused (401). Nil: never expires.
    public var expiresAt: Date?
    public var createdAt: Date
    public var createdBy: String?
    /// Updated (at most about once a minute) when the key is used.
    public var lastUsedAt: Date?

    public init(
        id: Int64 = 0, kind: Kind, displayName: String, description: String = "", keyHash: String,
        feeds: [String] = [], tasks: [SecurityTask] = [], userName: String? = nil, expiresAt: Date? = nil,
        createdAt: Date = Date(), createdBy: String? = nil, lastUsedAt: Date? = nil
    ) {
        self.id = id
        self.kind = kind
        self.displayName = displayName
        self.description = description
        self.keyHash = keyHash
        self.feeds = feeds
        self.tasks = tasks
        self.userName = userName
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.lastUsedAt = lastUsedAt
    }
}

/// One entry of the event log (`/api/events`). Never holds a secret.
public struct SecurityEvent: Hashable, Sendable, Codable {
    /// Assigned by the store; 0 before that.
    public var id: Int64
    /// What happened, e.g. `login-failed`, `api-key-created`, `api-key-deleted`, `privilege-added`,
    /// `privilege-removed`, `user-created`, `user-deleted`, `group-changed`, `anonymous-access-changed`.
    public var kind: String
    /// Who did it (a user name, a key's display name, or nil when unknown/anonymous).
    public var actor: String?
    /// What it was done to (a user, key display name, privilege description...).
    public var subject: String?
    /// Free text; never secrets.
    public var detail: String
    /// The client address, when known.
    public var remoteAddress: String?
    public var at: Date

    public init(
        id: Int64 = 0, kind: String, actor: String? = nil, subject: String? = nil, detail: String = "",
        remoteAddress: String? = nil, at: Date = Date()
    ) {
        self.id = id
        self.kind = kind
        self.actor = actor
        self.subject = subject
        self.detail = detail
        self.remoteAddress = remoteAddress
        self.at = at
    }
}
