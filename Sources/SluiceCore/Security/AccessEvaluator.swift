import Foundation

/// The precedence rule of Sluice's security model, as one pure function (documented in docs/security.md).
///
/// For a subject asking for task `T` on feed `F` (`F` nil = a global or management action):
/// 1. A privilege *applies* when its principal matches the subject (a user by name, case-insensitively; a group
///    when the user is a member, case-insensitively; anonymous only when not signed in; authenticated when signed
///    in as a user; everyone always), its scope matches (no feed, or exactly `F`, case-sensitively; a feed-scoped
///    privilege never applies when `F` is nil), and its task is `T` or ``SecurityTask/administer``.
/// 2. Any applying restriction denies (restrictions beat every grant, administer included).
/// 3. Otherwise any applying permission allows.
/// 4. Otherwise, for a signed-in user, a permission granted to Anonymous allows (signing in never reduces access;
///    restrictions on Anonymous concern only requests without credentials).
/// 5. Otherwise the request is denied.
///
/// Feed API keys bypass privileges: allowed iff `F` is one of the key's feeds and `T` one of its tasks (never
/// administer or manage-feed). System keys are allowed everything. Personal keys are evaluated as their user.
public enum AccessEvaluator {
    /// Who asks, in the terms of the rule.
    public enum Subject: Hashable, Sendable {
        /// No credentials.
        case anonymous
        /// A signed-in user (by password, personal API key or session) and the groups it belongs to.
        case user(name: String, groups: [String])
        /// A feed API key: the feeds it opens and the tasks it grants there.
        case feedKey(feeds: [String], tasks: [SecurityTask])
        /// A system API key.
        case systemKey
    }

    /// The outcome, with the privilege that decided it (for messages and the docs' examples).
    public enum Decision: Hashable, Sendable {
        /// Allowed by `permission` (nil for API keys, which bypass privileges).
        case allowed(by: Privilege?)
        /// Denied by `restriction`, or (nil) because nothing grants the task.
        case denied(by: Privilege?)

        /// Whether the task is allowed.
        public var isAllowed: Bool {
            if case .allowed = self { return true }
            return false
        }
    }

    /// Decides whether `subject` may perform `task` on `feed` (nil = global) under `privileges`.
    public static func evaluate(
        _ task: SecurityTask, feed: String?, subject: Subject, privileges: [Privilege]
    ) -> Decision {
        switch subject {
        case .systemKey:
            return .allowed(by: nil)
        case .feedKey(let feeds, let tasks):
            guard let feed, task != .administer, task != .manageFeed, feeds.contains(feed), tasks.contains(task)
            else { return .denied(by: nil) }
            return .allowed(by: nil)
        case .anonymous, .user:
            let applying = privileges.filter { applies($0, to: task, feed: feed, subject: subject) }
            if let restriction = applying.first(where: \.isRestriction) {
                return .denied(by: restriction)
            }
            if let permission = applying.first(where: { !$0.isRestriction }) {
                return .allowed(by: permission)
            }
            // Signing in never reduces access: what Anonymous is granted, a signed-in user is granted too (a
            // restriction on Anonymous, on the other hand, only concerns requests without credentials).
            if case .user = subject,
                let permission = privileges.first(where: {
                    !$0.isRestriction && $0.principal == .anonymous
                        && applies($0, to: task, feed: feed, subject: .anonymous)
                })
            {
                return .allowed(by: permission)
            }
            return .denied(by: nil)
        }
    }

    /// Whether `subject` may perform `task` on `feed`; see ``evaluate(_:feed:subject:privileges:)``.
    public static func allows(
        _ task: SecurityTask, feed: String?, subject: Subject, privileges: [Privilege]
    ) -> Bool {
        evaluate(task, feed: feed, subject: subject, privileges: privileges).isAllowed
    }

    /// Whether `privilege` applies to a request by `subject` for `task` on `feed` (rule 1).
    public static func applies(_ privilege: Privilege, to task: SecurityTask, feed: String?, subject: Subject) -> Bool {
        guard privilege.task == task || privilege.task == .administer else { return false }
        if let scope = privilege.feed {
            guard let feed, scope == feed else { return false }
        }
        return matches(privilege.principal, subject: subject)
    }

    /// Whether `principal` names `subject`.
    public static func matches(_ principal: Principal, subject: Subject) -> Bool {
        switch (principal, subject) {
        case (.everyone, _):
            return true
        case (.anonymous, .anonymous):
            return true
        case (.authenticated, .user):
            return true
        case (.user(let name), .user(let userName, _)):
            return name.caseInsensitiveCompare(userName) == .orderedSame
        case (.group(let name), .user(_, let groups)):
            return groups.contains { $0.caseInsensitiveCompare(name) == .orderedSame }
        default:
            return false
        }
    }
}
