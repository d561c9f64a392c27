import SluiceCore

/// Who a request acts as, decided by ``AuthenticationMiddleware`` (through ``AccessControl/authenticate(_:pathToken:remoteAddress:)``)
/// and stored in ``SluiceRequestContext/identity``.
public enum Identity: Hashable, Sendable {
    /// No credentials were given.
    case anonymous
    /// A signed-in user: by password, by a personal API key (`apiKeyID` set), or by a web session. `groups` are the
    /// groups the user belonged to when the request was authenticated.
    case user(name: String, groups: [String], apiKeyID: Int64?)
    /// A feed API key: opens `feeds` for `tasks` only.
    case feedKey(id: Int64, displayName: String, feeds: [String], tasks: [SecurityTask])
    /// A system API key: may do everything.
    case systemKey(id: Int64, displayName: String)

    /// The user name, or `api-key:<displayName>` for feed and system keys; nil when anonymous. Used for
    /// `uploadedBy`, `promotedBy` and the event log's actor.
    public var actorName: String? {
        switch self {
        case .anonymous: nil
        case .user(let name, _, _): name
        case .feedKey(_, let displayName, _, _), .systemKey(_, let displayName): "api-key:\(displayName)"
        }
    }

    /// Whether the request carried no credentials.
    public var isAnonymous: Bool { self == .anonymous }

    /// The signed-in user's name (also for personal keys); nil for anonymous requests and feed or system keys.
    public var userName: String? {
        if case .user(let name, _, _) = self { return name }
        return nil
    }

    /// Whether this is a user who signed in with a password or a session (not through an API key): the identities
    /// that may create personal keys for themselves.
    public var isPasswordUser: Bool {
        if case .user(_, _, nil) = self { return true }
        return false
    }

    /// The identity in the terms of ``AccessEvaluator``.
    public var subject: AccessEvaluator.Subject {
        switch self {
        case .anonymous: .anonymous
        case .user(let name, let groups, _): .user(name: name, groups: groups)
        case .feedKey(_, _, let feeds, let tasks): .feedKey(feeds: feeds, tasks: tasks)
        case .systemKey: .systemKey
        }
    }
}
