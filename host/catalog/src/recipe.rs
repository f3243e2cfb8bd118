//! Work in progress: recipe.
