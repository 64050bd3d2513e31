// The shape of a scheduler config (diffusers' scheduler_config.json keys), apart from its parsing
// (config.ts) and checks (config-check.ts), which both need it.
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  trained_betas: number[] | null;
  prediction_type: PredictionType;
  timestep_spacing: TimestepSpacing | null;
  steps_offset: number;
  /** DDIM, PNDM, LCM */
  set_alpha_to_one: boolean;
  /** PNDM: PLMS only (true), or the Runge-Kutta warm-up first (false). */
  skip_prk_steps: boolean;
  clip_sample: boolean;
  clip_sample_range: number;
  /** DPM-Solver multistep */
  solver_order: number;
  algorithm_type: 'dpmsolver++';
  solver_type: 'midpoint' | 'heun';
  lower_order_final: boolean;
  euler_at_final: boolean;
  final_sigmas_type: 'zero' | 'sigma_min';
  /** DPM-Solver multistep: the timesteps stop where lambda(t) falls below this. */
  lambda_min_clipped: number;
  /** Euler */
  interpolation_type: 'linear';
  /** LCM */
  original_inference_steps: number;
  timestep_scaling: number;
}
