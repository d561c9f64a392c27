import SluiceCore

/// Decides whether an identity may promote packages from one feed to another.
///
/// The rule of the security contract is ``AccessControlPromotionAuthorizer``: Promote Packages on the *source* feed,
/// as in ProGet, where a group gets Promote Packages on `unapproved-conda`.
public protocol PromotionAuthorizer: Sendable {
    /// Returns normally when `identity` may promote from `fromFeed` into `toFeed`.
    /// - Throws: `SluiceError.unauthenticated` (401) for an anonymous identity that may not, `.forbidden` (403)
    ///   naming the missing task and feed otherwise.
    func authorizePromotion(identity: Identity, fromFeed: String, toFeed: String) async throws
}

/// Promotion needs Promote Packages on the source feed (``AccessControl``). It is not also asked for View & Download
/// there: the seed's step grants a group Promote Packages on `unapproved-conda` and nothing else, and its members
/// must be able to promote (Promote Packages lets them read what they promote, as ProGet's task does).
public struct AccessControlPromotionAuthorizer: PromotionAuthorizer {
    let access: AccessControl

    /// Creates the authorizer over `access`.
    public init(access: AccessControl) {
        self.access = access
    }

    /// Throws what ``AccessControl/require(_:feed:identity:)`` throws for Promote Packages on `fromFeed`.
    public func authorizePromotion(identity: Identity, fromFeed: String, toFeed: String) async throws {
        try await access.require(.promotePackages, feed: fromFeed, identity: identity)
    }
}
