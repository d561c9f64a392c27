import SluiceCore

/// Decides whether a user may promote packages from one feed to another.
///
/// SEAM for the security issue's "Promote Packages" task: until it lands, the promotion routes sit behind the
/// `Admin`-only ``AdminAuthenticationMiddleware`` and ``AdminOnlyPromotionAuthorizer`` only checks that a user was
/// authenticated. A feed-scoped implementation (privileges per feed, API keys) replaces it in ``PromotionController``
/// and may then be registered outside the admin group.
public protocol PromotionAuthorizer: Sendable {
    /// Returns normally when `user` may promote from `fromFeed` into `toFeed`.
    /// - Throws: `SluiceError.unauthenticated` (401) without a user, `.forbidden` (403) when the user lacks the
    ///   privilege.
    func authorizePromotion(user: String?, fromFeed: String, toFeed: String) async throws
}

/// The rule until the security issue lands: any authenticated user may promote, and the only user the admin
/// middleware lets through is `Admin`.
public struct AdminOnlyPromotionAuthorizer: PromotionAuthorizer {
    /// Creates the authorizer.
    public init() {}

    /// Throws `.unauthenticated` when no user was authenticated.
    public func authorizePromotion(user: String?, fromFeed: String, toFeed: String) async throws {
        guard user != nil else {
            throw SluiceError(.unauthenticated, "Promoting packages requires signing in as Admin.")
        }
    }
}
