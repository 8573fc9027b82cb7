using WarmStart.Core.Training;

namespace WarmStart.Core.Policies;

/// <summary>A penalty a stage asks for, made into an <see cref="IPenalty"/> when the stage's context exists.</summary>
public abstract record StagePenalty
{
    /// <summary>True when the penalty needs the parent stage's trained model (EWC anchors at it).</summary>
    public abstract bool NeedsParent { get; }

    /// <summary>Builds the penalty for the stage (<paramref name="context"/> holds the parent, θ₀'s seed, the data).</summary>
    public abstract IPenalty Create(StageContext context);

    /// <summary>L2-init toward the chain's original initialisation (<see cref="L2InitPenalty"/>).</summary>
    /// <param name="Lambda">Strength λ ≥ 0.</param>
    /// <param name="Form">Textbook or DASH-code form.</param>
    public sealed record L2Init(double Lambda, L2InitForm Form) : StagePenalty
    {
        /// <inheritdoc />
        public override bool NeedsParent => false;
        /// <inheritdoc />
        public override IPenalty Create(StageContext context) => L2InitPenalty.ForStage(Lambda, context, Form);
    }

    /// <summary>Elastic weight consolidation at the parent's solution (<see cref="EwcPenalty"/>).</summary>
    /// <param name="Lambda">Strength λ ≥ 0.</param>
    /// <param name="Fisher">How the parent's diagonal Fisher is estimated.</param>
    public sealed record Ewc(double Lambda, FisherOptions Fisher) : StagePenalty
    {
        /// <inheritdoc />
        public override bool NeedsParent => true;
        /// <inheritdoc />
        public override IPenalty Create(StageContext context) => EwcPenalty.ForStage(Lambda, context, Fisher);
    }
}
