import Foundation
import SluiceCore
import Testing

/// The precedence rule of docs/security.md as one table: privileges in force, who asks, what, where → the answer.
@Suite("AccessEvaluator")
struct AccessEvaluatorTests {
    typealias Subject = AccessEvaluator.Subject

    static func permission(_ principal: Principal, _ task: SecurityTask, _ feed: String? = nil) -> Privilege {
        Privilege(principal: principal, task: task, feed: feed)
    }

    static func restriction(_ principal: Principal, _ task: SecurityTask, _ feed: String? = nil) -> Privilege {
        Privilege(principal: principal, task: task, feed: feed, isRestriction: true)
    }

    /// The default install (SecurityBootstrap).
    static let defaults = [permission(.user("Admin"), .administer), permission(.anonymous, .viewDownload)]

    static let admin = Subject.user(name: "Admin", groups: [])
    static let alice = Subject.user(name: "alice", groups: [])
    static let networkEngineer = Subject.user(name: "bob", groups: ["Network Engineers"])

    struct Row: Sendable, CustomTestStringConvertible {
        var rule: String
        var privileges: [Privilege]
        var subject: Subject
        var task: SecurityTask
        var feed: String?
        var allowed: Bool
        var testDescription: String { rule }
    }

    static let table: [Row] = [
        // Default install.
        Row(
            rule: "defaults: anonymous views every feed", privileges: defaults, subject: .anonymous,
            task: .viewDownload, feed: "approved-conda", allowed: true),
        Row(
            rule: "defaults: anonymous may not publish", privileges: defaults, subject: .anonymous,
            task: .publishPackages, feed: "approved-conda", allowed: false),
        Row(
            rule: "defaults: anonymous may not administer", privileges: defaults, subject: .anonymous,
            task: .administer, feed: nil, allowed: false),
        Row(
            rule: "an all-feeds grant also applies to a global request (feed nil)",
            privileges: defaults, subject: .anonymous, task: .viewDownload, feed: nil, allowed: true),
        Row(
            rule: "defaults: Admin administers globally", privileges: defaults, subject: admin,
            task: .administer, feed: nil, allowed: true),
        Row(
            rule: "administer implies every task: Admin promotes on any feed", privileges: defaults, subject: admin,
            task: .promotePackages, feed: "unapproved-conda", allowed: true),
        Row(
            rule: "user names compare case-insensitively", privileges: defaults,
            subject: .user(name: "aDMIN", groups: []), task: .deletePackages, feed: "x", allowed: true),
        Row(
            rule: "signing in never reduces access: the anonymous grant covers signed-in users", privileges: defaults,
            subject: alice, task: .viewDownload, feed: "approved-conda", allowed: true),
        Row(
            rule: "the anonymous grant gives signed-in users nothing more than anonymous", privileges: defaults,
            subject: alice, task: .publishPackages, feed: "approved-conda", allowed: false),
        Row(
            rule: "a user's own restriction beats the anonymous grant",
            privileges: defaults + [restriction(.user("alice"), .viewDownload, "approved-conda")], subject: alice,
            task: .viewDownload, feed: "approved-conda", allowed: false),
        Row(
            rule: "without the anonymous grant a user with no privileges is denied",
            privileges: [permission(.user("Admin"), .administer)], subject: alice, task: .viewDownload,
            feed: "approved-conda", allowed: false),
        Row(
            rule: "nothing grants → deny", privileges: [], subject: admin, task: .viewDownload, feed: "f",
            allowed: false),
        // Virtual principals.
        Row(
            rule: "authenticated applies to any user",
            privileges: [permission(.authenticated, .viewDownload)], subject: alice, task: .viewDownload,
            feed: "f", allowed: true),
        Row(
            rule: "authenticated never applies to anonymous",
            privileges: [permission(.authenticated, .viewDownload)], subject: .anonymous, task: .viewDownload,
            feed: "f", allowed: false),
        Row(
            rule: "everyone applies to anonymous", privileges: [permission(.everyone, .viewDownload)],
            subject: .anonymous, task: .viewDownload, feed: "f", allowed: true),
        Row(
            rule: "everyone applies to users", privileges: [permission(.everyone, .viewDownload)], subject: alice,
            task: .viewDownload, feed: "f", allowed: true),
        // Groups.
        Row(
            rule: "a group grant applies to its members",
            privileges: [permission(.group("Network Engineers"), .promotePackages, "unapproved-conda")],
            subject: networkEngineer, task: .promotePackages, feed: "unapproved-conda", allowed: true),
        Row(
            rule: "group names compare case-insensitively",
            privileges: [permission(.group("network engineers"), .promotePackages, "unapproved-conda")],
            subject: networkEngineer, task: .promotePackages, feed: "unapproved-conda", allowed: true),
        Row(
            rule: "a group grant does not apply to non-members",
            privileges: [permission(.group("Network Engineers"), .promotePackages, "unapproved-conda")],
            subject: alice, task: .promotePackages, feed: "unapproved-conda", allowed: false),
        Row(
            rule: "a user grant is not a group grant of the same name",
            privileges: [permission(.user("Network Engineers"), .promotePackages)],
            subject: networkEngineer, task: .promotePackages, feed: "f", allowed: false),
        // Scope.
        Row(
            rule: "a feed-scoped grant applies to its feed",
            privileges: [permission(.user("alice"), .publishPackages, "a")], subject: alice,
            task: .publishPackages, feed: "a", allowed: true),
        Row(
            rule: "a feed-scoped grant does not apply to other feeds",
            privileges: [permission(.user("alice"), .publishPackages, "a")], subject: alice,
            task: .publishPackages, feed: "b", allowed: false),
        Row(
            rule: "feed names compare case-sensitively",
            privileges: [permission(.user("alice"), .publishPackages, "a")], subject: alice,
            task: .publishPackages, feed: "A", allowed: false),
        Row(
            rule: "a feed-scoped grant never applies to a global action",
            privileges: [permission(.user("alice"), .administer, "a")], subject: alice, task: .administer,
            feed: nil, allowed: false),
        Row(
            rule: "a feed-scoped administer grants every task on that feed",
            privileges: [permission(.user("alice"), .administer, "a")], subject: alice, task: .manageFeed,
            feed: "a", allowed: true),
        Row(
            rule: "a grant of one task does not grant another",
            privileges: [permission(.user("alice"), .viewDownload)], subject: alice, task: .publishPackages,
            feed: "a", allowed: false),
        Row(
            rule: "a global grant applies to every feed",
            privileges: [permission(.user("alice"), .deletePackages)], subject: alice, task: .deletePackages,
            feed: "anything", allowed: true),
        // Restrictions.
        Row(
            rule: "a restriction beats administer",
            privileges: defaults + [restriction(.user("Admin"), .deletePackages, "approved-conda")],
            subject: admin, task: .deletePackages, feed: "approved-conda", allowed: false),
        Row(
            rule: "a feed-scoped restriction leaves other feeds alone",
            privileges: defaults + [restriction(.user("Admin"), .deletePackages, "approved-conda")],
            subject: admin, task: .deletePackages, feed: "other", allowed: true),
        Row(
            rule: "a restriction of one task leaves other tasks alone",
            privileges: defaults + [restriction(.user("Admin"), .deletePackages, "approved-conda")],
            subject: admin, task: .publishPackages, feed: "approved-conda", allowed: true),
        Row(
            rule: "a restriction of administer denies every task in its scope",
            privileges: defaults + [restriction(.user("Admin"), .administer, "locked")], subject: admin,
            task: .viewDownload, feed: "locked", allowed: false),
        Row(
            rule: "a group restriction beats a user grant",
            privileges: [
                permission(.user("bob"), .promotePackages),
                restriction(.group("Network Engineers"), .promotePackages, "approved-conda"),
            ],
            subject: networkEngineer, task: .promotePackages, feed: "approved-conda", allowed: false),
        Row(
            rule: "an everyone restriction beats the anonymous grant",
            privileges: defaults + [restriction(.everyone, .viewDownload, "secret")], subject: .anonymous,
            task: .viewDownload, feed: "secret", allowed: false),
        Row(
            rule: "an anonymous restriction does not touch signed-in users",
            privileges: [permission(.authenticated, .viewDownload), restriction(.anonymous, .viewDownload)],
            subject: alice, task: .viewDownload, feed: "f", allowed: true),
        Row(
            rule: "a restriction on another feed does not touch the global grant",
            privileges: [permission(.anonymous, .viewDownload), restriction(.anonymous, .viewDownload, "x")],
            subject: .anonymous, task: .viewDownload, feed: "y", allowed: true),
        Row(
            rule: "a global restriction beats a feed grant",
            privileges: [
                permission(.user("alice"), .publishPackages, "a"), restriction(.user("alice"), .publishPackages),
            ],
            subject: alice, task: .publishPackages, feed: "a", allowed: false),
        // Feed keys.
        Row(
            rule: "a feed key opens its feed for its tasks", privileges: [],
            subject: .feedKey(feeds: ["a", "b"], tasks: [.viewDownload]), task: .viewDownload, feed: "b",
            allowed: true),
        Row(
            rule: "a feed key does not open other feeds", privileges: defaults,
            subject: .feedKey(feeds: ["a"], tasks: [.viewDownload]), task: .viewDownload, feed: "c",
            allowed: false),
        Row(
            rule: "a feed key grants only its tasks", privileges: [],
            subject: .feedKey(feeds: ["a"], tasks: [.viewDownload]), task: .publishPackages, feed: "a",
            allowed: false),
        Row(
            rule: "a feed key bypasses restrictions", privileges: [restriction(.everyone, .viewDownload)],
            subject: .feedKey(feeds: ["a"], tasks: [.viewDownload]), task: .viewDownload, feed: "a",
            allowed: true),
        Row(
            rule: "a feed key never administers", privileges: [],
            subject: .feedKey(feeds: ["a"], tasks: [.administer]), task: .administer, feed: "a", allowed: false),
        Row(
            rule: "a feed key never manages a feed", privileges: [],
            subject: .feedKey(feeds: ["a"], tasks: [.manageFeed]), task: .manageFeed, feed: "a", allowed: false),
        Row(
            rule: "a feed key never acts globally", privileges: [],
            subject: .feedKey(feeds: ["a"], tasks: [.viewDownload]), task: .viewDownload, feed: nil,
            allowed: false),
        Row(
            rule: "a feed key matches feeds case-sensitively", privileges: [],
            subject: .feedKey(feeds: ["a"], tasks: [.viewDownload]), task: .viewDownload, feed: "A",
            allowed: false),
        // System keys.
        Row(
            rule: "a system key administers", privileges: [], subject: .systemKey, task: .administer, feed: nil,
            allowed: true),
        Row(
            rule: "a system key ignores restrictions", privileges: [restriction(.everyone, .administer)],
            subject: .systemKey, task: .deletePackages, feed: "a", allowed: true),
    ]

    @Test(arguments: table)
    func precedence(_ row: Row) {
        let decision = AccessEvaluator.evaluate(
            row.task, feed: row.feed, subject: row.subject, privileges: row.privileges)
        #expect(decision.isAllowed == row.allowed, "\(row.rule)")
        #expect(
            AccessEvaluator.allows(row.task, feed: row.feed, subject: row.subject, privileges: row.privileges)
                == row.allowed)
    }

    @Test func theDecisionNamesTheRestrictionThatDenied() {
        let blocking = Privilege(
            id: 7, principal: .user("Admin"), task: .deletePackages, feed: "f", isRestriction: true)
        let decision = AccessEvaluator.evaluate(
            .deletePackages, feed: "f", subject: Self.admin, privileges: Self.defaults + [blocking])
        #expect(decision == .denied(by: blocking))
        let allowed = AccessEvaluator.evaluate(
            .viewDownload, feed: "f", subject: .anonymous, privileges: Self.defaults)
        #expect(allowed == .allowed(by: Self.defaults[1]))
    }
}
